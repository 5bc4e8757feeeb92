# Off-policy evaluation (package eval, "nextbest eval"); see docs/evaluation.md.
OBD_DATA       ?= ../shared/data/obd
HILLSTROM_DATA ?= ../shared/data/hillstrom
EVAL_SEED      ?= 1

.PHONY: obd hillstrom eval-test eval-fuzz

## obd: estimate Bernoulli-TS's CTR from the OBD Random logs, compare with its on-policy CTR
obd: build
	$(BIN) eval obd --data $(OBD_DATA) --seed $(EVAL_SEED)

## hillstrom: learned vs fixed e-mail policies on the Hillstrom trial (IPS/SNIPS/DR, 95% CI)
hillstrom: build
	$(BIN) eval hillstrom --data $(HILLSTROM_DATA) --seed $(EVAL_SEED)

## eval-test: the eval package's tests with the race detector (simulation, OBD fixture, Hillstrom if present)
eval-test:
	$(GO) test -race -count=1 ./eval/

## eval-fuzz: fuzz the rounds-CSV decoder for FUZZTIME (default 20s)
eval-fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReadRounds -fuzztime $(FUZZTIME) ./eval
