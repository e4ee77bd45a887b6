# eval regenerates docs/detection.md: labelled series judged by the default
# policy and by the baseline rules (fixed seed, about two minutes).
.PHONY: eval
eval:
	$(GO) run ./checks/eval/cmd/evaldoc -o docs/detection.md
