#!/usr/bin/env bash
# Installs the Debian packages the tests need when any is missing. Idempotent;
# does nothing when everything is present. Runs as root (CI) or via sudo.
set -euo pipefail

# package:probe — the probe is a file that exists once the package is installed.
wanted=(
  openssh-server:/usr/sbin/sshd
  openssh-client:/usr/bin/ssh-agent
  dropbear-bin:/usr/sbin/dropbear
  busybox-static:/bin/busybox
  chromium:/usr/bin/chromium
  postgresql:/usr/lib/postgresql/15/bin/initdb
)
if [ "${LEAKGATE_NO_RIG:-}" != 1 ]; then
  wanted+=(
    qemu-system-x86:/usr/bin/qemu-system-x86_64
    linux-source-6.12:/usr/src/linux-source-6.12.tar.xz
    build-essential:/usr/bin/make
    flex:/usr/bin/flex
    bison:/usr/bin/bison
    bc:/usr/bin/bc
    libelf-dev:/usr/include/libelf.h
    libssl-dev:/usr/include/openssl/ssl.h
    cpio:/usr/bin/cpio
    kmod:/usr/bin/kmod
  )
fi

missing=()
for w in "${wanted[@]}"; do
  pkg=${w%%:*} probe=${w#*:}
  [ -e "$probe" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
