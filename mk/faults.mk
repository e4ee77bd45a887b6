# faults.mk — the long fault variants (docs/reliability.md, "Long variants").
#   make soak-faults   the harness's fault soaks as 24 h soaks (injected clock)
#                      with each fault repeated through the run, against the
#                      in-process server, OpenSSH sshd and dropbear; then the
#                      QEMU reference target's fault tests (e2e TestRigFaults).
# `make test` runs the short form of the same tests (one fault in a 12 h soak).
FAULTS_TIMEOUT ?= 90m
FAULT_TESTS    := TestSoak_(LinkDrop|NetworkBlackHoled|SSHServerRestarted|RealSSHServer|ScanSlower|SIGKILL|ArtifactDiskFull|InterruptedByTheCaller)

.PHONY: soak-faults

soak-faults: deps
	LEAKGATE_FAULTS_LONG=1 $(GO) test -count=1 -v -timeout $(FAULTS_TIMEOUT) -run '$(FAULT_TESTS)' ./harness
	@$(GO) test -list 'TestRigFaults' ./e2e | grep -q '^TestRigFaults' || \
	  { echo "soak-faults: ./e2e has no TestRigFaults test; the rig's fault tests are missing from this tree"; exit 1; }
	LEAKGATE_FAULTS_LONG=1 $(GO) test -count=1 -v -timeout $(FAULTS_TIMEOUT) -run 'TestRigFaults' ./e2e
