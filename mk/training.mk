# Training targets (see docs/training.md).
CBN ?= 1000000

.PHONY: bench-train gen-cb train-progressive fuzz-train

## bench-train: training throughput (ridge batch, MLP) at 64 features and progressive validation on a generated cb_adf file
bench-train:
	@mkdir -p bin
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./training | tee bin/bench-train.txt

## gen-cb: a CBN-example cb_adf file (10 actions, 64 shared, 8 action features) in bin/cb.txt
gen-cb:
	@mkdir -p bin
	$(GO) run ./internal/gencb -n $(CBN) -seed 1 > bin/cb.txt

## train-progressive: nextbest's progressive loss and rate on bin/cb.txt (compare: vw --cb_adf -q sa -d bin/cb.txt)
train-progressive: build gen-cb
	$(BIN) train --cb-adf bin/cb.txt --progressive --per-action
	$(BIN) train --cb-adf bin/cb.txt --progressive --interactions sa

fuzz-train:
	$(GO) test -run '^$$' -fuzz FuzzParseADFLine -fuzztime $(FUZZTIME) ./training
	$(GO) test -run '^$$' -fuzz FuzzParseDSJSON -fuzztime $(FUZZTIME) ./training
	$(GO) test -run '^$$' -fuzz FuzzReadArtifact -fuzztime $(FUZZTIME) ./models
