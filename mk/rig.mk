# rig.mk — the QEMU reference target (testdata/rig, docs/rig.md).
#   make rig        build kernel, wlansim, wlansimd, initramfs (cached outside the tree)
#   make rig-up     boot it; RIG_BOOT_FLAGS="--param leak=1 --append kmemleak=off ..."
#   make rig-ssh    a shell on it
#   make rig-traffic  send RX traffic into it (RIG_TRAFFIC_FLAGS="-rate 100 -duration 1m")
#   make rig-down   stop it
#   make rig-soak   build, boot, soak with suites/wifi_soak, report, stop
#                   (RIG_SOAK_FLAGS="--leak kernel|daemon|none [--kmemleak-off] [--expect fail|pass]")
RIG_DIR         := testdata/rig
RIG_STATE       ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/leakgate/rig-up
RIG_BOOT_FLAGS  ?=
RIG_TRAFFIC_FLAGS ?= -rate 100 -duration 1m
RIG_SOAK_FLAGS  ?= --leak kernel

.PHONY: rig rig-up rig-down rig-ssh rig-traffic rig-soak

rig:
	@$(RIG_DIR)/build.sh

rig-up:
	@$(RIG_DIR)/boot.sh --state $(RIG_STATE) $(RIG_BOOT_FLAGS) >/dev/null
	@echo "rig up: ssh://root@127.0.0.1:$$(cat $(RIG_STATE)/ssh_port)  udp 127.0.0.1:$$(cat $(RIG_STATE)/udp_port)"
	@echo "  shell:       ssh -F $(RIG_STATE)/ssh_config leakgate-rig   (or make rig-ssh)"
	@echo "  known_hosts: $(RIG_STATE)/known_hosts  identity: $$(cat $(RIG_STATE)/identity)"
	@echo "  console:     $(RIG_STATE)/console.log   stop: make rig-down"

rig-ssh:
	@ssh -F $(RIG_STATE)/ssh_config leakgate-rig

rig-traffic:
	RIG_UDP_PORT=$$(cat $(RIG_STATE)/udp_port) $(GO) run ./internal/rig/cmd/wlantraffic $(RIG_TRAFFIC_FLAGS)

rig-down:
	@$(RIG_DIR)/stop.sh $(RIG_STATE)
	@echo "rig stopped"

rig-soak:
	@$(RIG_DIR)/soak.sh $(RIG_SOAK_FLAGS)
