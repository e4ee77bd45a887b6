#!/usr/bin/env bash
# measure-read.sh — bytes and target CPU time of one sample's reads on a
# booted rig, without and with the page-level sources (/proc/allocinfo and
# page_owner's show_stacks), for docs/benchmarks/pagelevel.md.
#
# Usage: measure-read.sh STATE_DIR [ROUNDS] [THRESHOLD]
#   STATE_DIR   a boot.sh state folder (its ssh_config is used)
#   ROUNDS      reads per configuration (default 50)
#   THRESHOLD   page_owner count_threshold while measuring (default 64; restored after)
#
# On the guest, busybox ash's `times` gives the CPU time of the reads; each
# configuration reads the same files the harness's one round trip reads
# (checks.SnapshotPaths without alloc_traces), ROUNDS times.
set -euo pipefail
state=${1:?usage: measure-read.sh STATE_DIR [ROUNDS] [THRESHOLD]}
rounds=${2:-50}
threshold=${3:-64}
case $rounds$threshold in *[!0-9]*) echo "measure-read: ROUNDS and THRESHOLD are numbers" >&2; exit 2 ;; esac

ssh -F "$state/ssh_config" leakgate-rig sh -s "$rounds" "$threshold" <<'GUEST'
rounds=$1 threshold=$2
base='/proc/sys/kernel/random/boot_id /proc/uptime /proc/meminfo /proc/slabinfo /proc/vmallocinfo /sys/kernel/debug/kmemleak /proc/[0-9]*/status /proc/[0-9]*/stat /proc/[0-9]*/smaps_rollup'
ai=/proc/allocinfo
po=/sys/kernel/debug/page_owner_stacks/show_stacks
ct=/sys/kernel/debug/page_owner_stacks/count_threshold
old=$(cat $ct)
# user+sys CPU in ms of the shell and its children, from ash's `times`
# (two lines of "XmY.ZZZs XmY.ZZZs"; busybox runs cat in-process as a NOFORK
# applet, so its time lands on the shell's own line).
# `times` runs in this shell (a pipe or $(...) would fork and count nothing).
cpu_ms() { times >/tmp/measure-read.times; awk '{ for (i=1;i<=2;i++) { split($i,a,"m"); sub("s","",a[2]); t+=a[1]*60+a[2] } } END { printf "%d", t*1000 }' /tmp/measure-read.times; }
run() { # name threshold files...
  name=$1 th=$2; shift 2
  echo "$th" > $ct
  bytes=$(cat $@ 2>/dev/null | wc -c)
  cpu_ms >/tmp/measure-read.t0; t0=$(cat /tmp/measure-read.t0)
  i=0; while [ $i -lt $rounds ]; do cat $@ >/dev/null 2>&1; i=$((i+1)); done
  cpu_ms >/tmp/measure-read.t1; t1=$(cat /tmp/measure-read.t1)
  echo "$name: $bytes bytes per read, $(( (t1-t0)*1000/rounds )) us target CPU per read (mean of $rounds; threshold $th)"
}
run "sample without page-level sources" "$old" $base
run "allocinfo alone" "$old" $ai
run "show_stacks, count_threshold=0" 0 $po
run "show_stacks, count_threshold=$threshold" "$threshold" $po
run "sample + allocinfo + show_stacks (threshold $threshold)" "$threshold" $base $ai $po
echo "$old" > $ct
echo "stacks at threshold 0: $(echo 0 > $ct; grep -c nr_base_pages $po); at $threshold: $(echo $threshold > $ct; grep -c nr_base_pages $po); allocinfo sites: $(grep -c func: $ai)"
echo "$old" > $ct
GUEST
