# compare-eval regenerates docs/compare.md: labelled pairs of runs compared by
# checks/compare (fixed seed, about 15 s).
.PHONY: compare-eval
compare-eval:
	$(GO) run ./checks/compare/eval/cmd/compareeval -o docs/compare.md
