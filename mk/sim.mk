# Simulator targets: the demo, the learning benchmark, the load run.
# See docs/simulator.md.

DEMO_ADDR     ?= 127.0.0.1:8080
DEMO_DURATION ?= 90s
DEMO_RATE     ?= 300
LEARN_HORIZON ?= 100000
LEARN_SEEDS   ?= 1,2,3,4,5
LOAD_DURATION ?= 20s
LOAD_CONC     ?= 16

.PHONY: demo learnbench simload sim-test

## demo: start the service on the embedded retail sample with a fresh data
## dir, run the simulator against it for DEMO_DURATION, then stop it
demo: build
	@set -e; dir=$$(mktemp -d -t nextbest-demo.XXXXXX); \
	echo "demo: data in $$dir, service on http://$(DEMO_ADDR)"; \
	$(BIN) serve --data $$dir --addr $(DEMO_ADDR) --log-level warn & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -rf $$dir' EXIT INT TERM; \
	echo "demo: while it runs, look at"; \
	echo "  http://$(DEMO_ADDR)/metrics               Prometheus metrics (nextbest_decisions_total, latency, model updates)"; \
	echo "  http://$(DEMO_ADDR)/v1/actions            the action catalog"; \
	echo "  http://$(DEMO_ADDR)/v1/profiles/c-0002    a customer's profile as the journey changes it"; \
	echo "  http://$(DEMO_ADDR)/ui/                   the live dashboard"; \
	echo "  curl -s -XPOST http://$(DEMO_ADDR)/v1/decide -H 'Content-Type: application/json' -d '{\"customer_id\":\"c-0002\",\"channel\":\"web\",\"context\":{\"page\":\"cart\",\"cart_value\":80},\"explain\":true}'"; \
	$(BIN) simulate --target http://$(DEMO_ADDR) --duration $(DEMO_DURATION) --rate $(DEMO_RATE) --concurrency 16 --wait 30s --json bin/demo-summary.json; \
	echo "demo: summary in bin/demo-summary.json; stopping the service"

## learnbench: every policy against the oracle, in process; writes
## bin/learnbench/results.{md,csv,json} and regret.svg
learnbench: build
	$(BIN) simulate learnbench --out bin/learnbench --horizon $(LEARN_HORIZON) --seeds $(LEARN_SEEDS)

## simload: the simulator as a load generator against a fresh service at full speed
simload: build
	@set -e; dir=$$(mktemp -d -t nextbest-load.XXXXXX); \
	$(BIN) serve --data $$dir --addr $(DEMO_ADDR) --log-level warn & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -rf $$dir' EXIT INT TERM; \
	$(BIN) simulate --target http://$(DEMO_ADDR) --duration $(LOAD_DURATION) --concurrency $(LOAD_CONC) --customers 100000 --wait 30s --json bin/simload.json

## sim-test: the simulator's tests
sim-test:
	$(GO) test -race -count=1 ./eval/sim/...
