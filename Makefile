# rcq: research compute queue. `make help` lists the targets.

GO        ?= go
BIN       := bin
PREFIX    ?= /usr/local
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/rcq-project/rcq/internal/daemon.Version=$(VERSION)
COMMANDS  := rcqd rcq-login rcq-submit rcq-queue rcq-cancel rcq-acct rcq-show rcq-control rcq-info rcq-share rcq-tail rcq-admin rcq
RUN_ARGS  ?=
# Slurm's command names the rcq binary answers to (internal/cli/slurmcompat),
# installed as symlinks under lib/rcq/slurm-compat, never on PATH.
SLURM_NAMES := sbatch squeue scancel sacct sinfo scontrol sacctmgr srun

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build every binary into ./bin
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/rcqd
	@# The commands and the supervisor are static, as in the releases: no
	@# dynamic loader and libc at every start (docs/performance.md).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(filter-out rcqd,$(filter $(COMMANDS),$(notdir $(wildcard cmd/*))))) ./cmd/rcq-supervise

.PHONY: run
run: ensure-postgres build ## build, then start rcqd in the foreground on its private PostgreSQL
	$(BIN)/rcqd $(RUN_ARGS)

.PHONY: ensure-postgres
ensure-postgres:
	@scripts/ensure-postgres.sh

.PHONY: test
test: ensure-postgres ## go vet, then every test with the race detector
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

.PHONY: test-faults
# Fuzzing is bounded by a number of inputs, about 10-20 s of each target
# here, not by a duration: Go 1.26's fuzzing coordinator can report a bare
# "context deadline exceeded" as a failure when a duration runs out on a
# busy machine (golang/go#75804, fixed in Go 1.27); a count has no deadline.
test-faults: ensure-postgres ## the long fault loops (internal/faults with RCQ_FAULTS=1) and bounded fuzzing (also run by CI)
	RCQ_FAULTS=1 $(GO) test -race -count=1 -timeout 20m -run '^TestFault' ./internal/faults
	$(GO) test -run '^$$' -fuzz '^FuzzParseDirectives$$' -fuzztime 700000x ./internal/cli/submit/plan
	$(GO) test -run '^$$' -fuzz '^FuzzParseTime$$' -fuzztime 300000x ./internal/cli/submit/plan
	$(GO) test -run '^$$' -fuzz '^FuzzParseMem$$' -fuzztime 300000x ./internal/cli/submit/plan
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSubmit$$' -fuzztime 60000x ./internal/api
	$(GO) test -run '^$$' -fuzz '^FuzzExpandPattern$$' -fuzztime 100000x ./internal/executor
	$(GO) test -run '^$$' -fuzz '^FuzzParseArraySpec$$' -fuzztime 300000x ./internal/rcq
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime 60000x ./internal/client
	$(GO) test -run '^$$' -fuzz '^FuzzIndentJSON$$' -fuzztime 100000x ./internal/cli
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCredentials$$' -fuzztime 100000x ./internal/client/thin
	$(GO) test -run '^$$' -fuzz '^FuzzReadError$$' -fuzztime 25000x ./internal/client/thin
	$(GO) test -run '^$$' -fuzz '^FuzzValue$$' -fuzztime 400000x ./internal/jsonscan
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJob$$' -fuzztime 400000x ./internal/cli/show/jobtext
	$(GO) test -run '^$$' -fuzz '^FuzzFastJSON$$' -fuzztime 40000x ./internal/cli/show
	$(GO) test -run '^$$' -fuzz '^FuzzCheckDuplicateKeys$$' -fuzztime 10000x ./internal/api
	$(GO) test -run '^$$' -fuzz '^FuzzScalars$$' -fuzztime 500000x ./internal/jsonscan
	$(GO) test -run '^$$' -fuzz '^FuzzParseArgs$$' -fuzztime 60000x ./internal/cli/submit
	$(GO) test -run '^$$' -fuzz '^FuzzFastArgs$$' -fuzztime 100000x ./internal/cli/show

.PHONY: test-compat
test-compat: ensure-postgres ## real workflow tools (Debian's Snakemake and Toil) run workflows on a throwaway rcqd through the Slurm names
	scripts/install-compat-tools.sh
	RCQ_COMPAT=1 $(GO) test -count=1 -v -timeout 40m -run '^TestCompat' ./internal/compat

.PHONY: test-ui
test-ui: ensure-postgres ## the dashboard in headless Chromium (scripts/ensure-chromium.sh installs it) against real rcqds (also run by CI)
	@scripts/ensure-chromium.sh >/dev/null
	RCQ_UI=1 $(GO) test -count=1 -v -timeout 20m -run '^TestUI' ./internal/ui/uitest

.PHONY: screenshots
screenshots: ensure-postgres ## PNGs of every dashboard page at desktop (1280x800) and phone (390x844) widths in build/screenshots/ (not committed)
	@scripts/ensure-chromium.sh >/dev/null
	RCQ_UI=1 RCQ_SCREENSHOTS=$(CURDIR)/build/screenshots $(GO) test -count=1 -v -timeout 10m -run '^TestScreenshots$$' ./internal/ui/uitest

.PHONY: lint
lint: ## go vet and staticcheck
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

.PHONY: bench
bench: ensure-postgres build bench-sched ## every benchmark: the scheduler core, then rcq-bench end to end
	$(GO) run ./cmd/rcq-bench -bin $(BIN) -json bench-results.json

.PHONY: bench-slurm
bench-slurm: ensure-postgres build ## rcq side by side with a running Slurm on this machine (docs/performance.md)
	$(GO) run ./cmd/rcq-bench -bin $(BIN) -slurm -json bench-slurm.json

.PHONY: bench-sched
bench-sched: ensure-postgres ## scheduler benchmarks: pure core and full cycle against PostgreSQL
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./internal/sched

.PHONY: man
man: ## regenerate the man pages in man/
	$(GO) run ./cmd/rcq-gendocs -man man

.PHONY: completions
completions: ## regenerate the shell completions in completions/
	$(GO) run ./cmd/rcq-gendocs -completions completions

.PHONY: install
install: build ## install binaries, man pages, completions, the systemd unit and the Slurm names (lib/rcq/slurm-compat) under PREFIX
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(addprefix $(BIN)/,$(notdir $(wildcard $(BIN)/*))) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 man/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	-install -m 0644 man/man8/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	-install -m 0644 completions/bash/* $(DESTDIR)$(PREFIX)/share/bash-completion/completions/
	-install -m 0644 completions/zsh/* $(DESTDIR)$(PREFIX)/share/zsh/site-functions/
	-install -m 0644 completions/fish/* $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0644 scripts/rcqd.service $(DESTDIR)$(PREFIX)/lib/systemd/system/rcqd.service
	install -d $(DESTDIR)$(PREFIX)/lib/rcq/slurm-compat
	for n in $(SLURM_NAMES); do ln -sfn ../../../bin/rcq $(DESTDIR)$(PREFIX)/lib/rcq/slurm-compat/$$n; done

.PHONY: release-check
release-check: ## goreleaser check and a snapshot release (nothing published); the .deb installed into a throwaway root and checked (also run by CI)
	scripts/check-release.sh

.PHONY: clean
clean: ## remove build outputs
	rm -rf $(BIN) bench-results.json bench-slurm.json dist
