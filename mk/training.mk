# Training targets (see docs/training.md).
CBN ?= 1000000

.PHONY: bench-train gen-cb train-progressive bench-vw fuzz-train

## bench-train: training throughput (ridge batch, MLP) at 64 features and progressive validation on a generated cb_adf file
bench-train:
	@mkdir -p bin
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./training | tee bin/bench-train.txt

## gen-cb: a CBN-example cb_adf file (10 actions, 64 shared, 8 action features) in bin/cb.txt, the true model's losses in bin/cb.oracle.txt
gen-cb:
	@mkdir -p bin
	$(GO) run ./internal/gencb -n $(CBN) -seed 1 -oracle bin/cb.oracle.txt > bin/cb.txt

# The VW-comparison file, generated once per size.
bin/cb-$(CBN).txt:
	@mkdir -p bin
	$(GO) run ./internal/gencb -n $(CBN) -seed 1 -oracle bin/cb-$(CBN).oracle.txt > $@.tmp && mv $@.tmp $@

## bench-vw: the Vowpal Wabbit comparison on one core: examples/s and progressive loss of each learner on a CBN-example cb_adf file (made once), next to the true model's and random's loss (VW 9.11 --cb_adf -q sa: ~25k examples/s)
bench-vw: build bin/cb-$(CBN).txt
	@echo "== true model (internal/gencb -oracle)"; cat bin/cb-$(CBN).oracle.txt
	@echo "== reader only (fast cb_adf parser)"
	@GOMAXPROCS=1 $(BIN) train --cb-adf bin/cb-$(CBN).txt --progressive --model sgd --parse-only
	@echo "== sgd --interactions sa (VW --cb_adf -q sa)"
	@GOMAXPROCS=1 $(BIN) train --cb-adf bin/cb-$(CBN).txt --progressive --model sgd --interactions sa
	@echo "== sgd --interactions sa, -c: the first run writes the binary cache, the second reads it (VW --cb_adf -q sa -c)"
	@rm -f bin/cb-$(CBN).txt.cache
	@GOMAXPROCS=1 $(BIN) train --cb-adf bin/cb-$(CBN).txt --progressive --model sgd --interactions sa -c
	@GOMAXPROCS=1 $(BIN) train --cb-adf bin/cb-$(CBN).txt --progressive --model sgd --interactions sa -c
	@echo "== sgd, no interactions (VW --cb_adf)"
	@GOMAXPROCS=1 $(BIN) train --cb-adf bin/cb-$(CBN).txt --progressive --model sgd
	@echo "== ridge, shared, no interactions"
	@GOMAXPROCS=1 $(BIN) train --cb-adf bin/cb-$(CBN).txt --progressive --model ridge
	@echo "== ridge, per action"
	@GOMAXPROCS=1 $(BIN) train --cb-adf bin/cb-$(CBN).txt --progressive --per-action

## train-progressive: nextbest's progressive loss and rate on bin/cb.txt (compare: vw --cb_adf -q sa -d bin/cb.txt)
train-progressive: build gen-cb
	$(BIN) train --cb-adf bin/cb.txt --progressive --per-action
	$(BIN) train --cb-adf bin/cb.txt --progressive --interactions sa

fuzz-train:
	$(GO) test -run '^$$' -fuzz FuzzParseADFLine -fuzztime $(FUZZTIME) ./training
	$(GO) test -run '^$$' -fuzz FuzzFastADFLine -fuzztime $(FUZZTIME) ./training
	$(GO) test -run '^$$' -fuzz FuzzReadCBADFFast -fuzztime $(FUZZTIME) ./training
	$(GO) test -run '^$$' -fuzz FuzzParseDSJSON -fuzztime $(FUZZTIME) ./training
	$(GO) test -run '^$$' -fuzz FuzzReadArtifact -fuzztime $(FUZZTIME) ./models
