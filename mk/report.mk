# Experiment reports (package eval, "nextbest report"); see docs/reports.md.
REPORT_JOURNAL     ?= $(DATA)/journal
REPORT_EXPERIMENTS ?= experiments.yaml
REPORT_OUT         ?= bin/report
REPORT_WINDOW      ?= 7d

.PHONY: report report-test report-golden

## report: analyse the experiments of REPORT_EXPERIMENTS on the journal in
## REPORT_JOURNAL; writes report.html/.json/.csv under REPORT_OUT
report: build
	$(BIN) report --journal $(REPORT_JOURNAL) --experiments $(REPORT_EXPERIMENTS) --window $(REPORT_WINDOW) --out $(REPORT_OUT)

## report-test: the experiment statistics, end-to-end verdict and report tests (race detector on)
report-test:
	$(GO) test -race -count=1 -run 'Experiment|Verdict|Report|Wald|Newcombe|Welch|Wilson|RelativeLift|ChiSquare|Mixture|Sequential|ProbBeat|SampleSize|DecisionMetrics|Clustered' -v ./eval/
	$(GO) test -race -count=1 -run 'TestJoin' ./training/

## report-golden: rewrite eval/testdata/experiment/verdicts.golden after an intended change of the verdict text
report-golden:
	$(GO) test -count=1 -run TestVerdictGolden ./eval/ -update
