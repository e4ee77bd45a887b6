# leakgate — the targets a newcomer and CI need. `make test` is the one test
# command: it installs what it needs, then runs unit, integration and
# end-to-end tests.
GO            ?= go
GOBIN         := $(shell $(GO) env GOPATH)/bin
STATICCHECK   := $(GOBIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
TEST_TIMEOUT  ?= 60m
FUZZTIME      ?= 10s

.PHONY: all build test deps lint bench fuzz demo clean

all: build

build:
	$(GO) build ./...

deps:
	./scripts/deps.sh
	$(GO) mod download

# suites/ is left out of the package list: a suite without --target fails by
# design. harness's TestSuite and e2e build and run it against real targets.
TEST_PKGS = $$($(GO) list ./... | grep -v /suites/)

test: deps
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TEST_PKGS)

# demo boots the QEMU reference target with the wlansim leak on, soaks it with
# the wifi_soak suite at an accelerated interval, prints the failure message
# (cache, culprit, backtrace) and the report path, and stops the VM. It exits 0
# when the gate failed as it should.
demo: deps
	testdata/rig/soak.sh --leak kernel --expect fail

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# fuzz runs every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf out

# Area fragments (rig, demo, eval) add their own targets.
-include mk/*.mk
