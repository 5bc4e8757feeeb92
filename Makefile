# nextbest — see README.md.
GO       ?= go
BIN      ?= bin/nextbest
DATA     ?= data
BENCHTIME ?= 2s

.PHONY: all build run test test-short race bench fuzz vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/nextbest

## run: the service on 127.0.0.1:8080 with the embedded retail sample, data in ./data
run: build
	$(BIN) serve --data $(DATA)

# The race detector runs on the packages with concurrency (the server, the
# journal, the stores, the models' snapshots, the binary-level tests, the
# cluster path on real redis-server and nats-server); the
# numerical packages (training, evaluation, simulation) run without it,
# where it would only multiply their time.
RACE_PKGS = ./journal/... ./features/... ./state/... ./training/online/... ./models/... ./decide/... ./serve/... ./apptest/... ./kv/... ./cluster/... ./internal/engines/...

## test: vet, then every test, as CI runs it
test: vet
	$(GO) test -race -count=1 -timeout 15m $(RACE_PKGS)
	$(GO) test -count=1 -run 'Alloc' ./decide/... ./features/... ./models/... ./journal/...
	$(GO) test -count=1 -timeout 15m $$($(GO) list ./... | grep -v -e /journal -e /features -e /state -e /training/online -e /models -e /decide -e /serve -e /apptest -e /kv -e /cluster -e /internal/engines)

test-short:
	$(GO) test -short -count=1 ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

## bench: the performance table (decide in process, journal, HTTP vs bare fasthttp)
bench:
	@mkdir -p bin
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./decide ./journal ./features ./models ./training ./serve ./cluster/stream ./export | tee bin/bench.txt
	@$(GO) run ./internal/benchtab < bin/bench.txt

## fuzz: every fuzz target of every package for FUZZTIME each (default 20s)
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin $(DATA)

# Targets of the training, evaluation and simulation tools live beside
# this file in mk/*.mk.
-include mk/*.mk
