package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"nextbest/clv"
	"nextbest/journal"
	"nextbest/logs"
	"nextbest/loop"
)

const clvUsage = `Usage:
  nextbest clv fit    (--transactions FILE | --journal DIR) [--end YYYY-MM-DD] [--json]
                      [--apply URL --key KEY [--horizon 52] [--discount 0.10]]
  nextbest clv report (--transactions FILE | --journal DIR) [--end YYYY-MM-DD] [--holdout-end YYYY-MM-DD]
                      --out report.html [--format csv|json] [--csv FILE] [--horizon 52] [--discount 0.10]

Customer lifetime value: BG/NBD (purchases, P(alive)) and Gamma-Gamma
(spend per purchase), fitted by maximum likelihood on the calibration
period, which ends at --end (default: the last purchase day). Time is in
weeks. See docs/clv.md.

Transactions: CDNOW's whitespace layout (customer_id date quantity amount,
or the sample's five columns) or a CSV with the header columns
customer_id,date,quantity,amount (quantity optional). --journal reads the
service's journal instead: its events of type --event (purchase), with the
amount in the property --amount-key (amount).
`

// runCLV is "nextbest clv": fit and report customer lifetime value.
func runCLV(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, clvUsage)
		if len(args) == 0 {
			return errors.New("clv: name a subcommand: fit or report (see nextbest clv -h)")
		}
		return nil
	}
	switch args[0] {
	case "fit":
		return clvFit(args[1:], stdout, stderr)
	case "report":
		return clvReport(args[1:], stdout, stderr)
	}
	return fmt.Errorf("clv: unknown subcommand %q: want fit or report (see nextbest clv -h)", args[0])
}

// clvInput is the flags that say where the purchases come from and where
// calibration ends.
type clvInput struct {
	transactions, journal, event, amountKey string
	end, holdoutEnd                         string
}

func (in *clvInput) flags(fs *flag.FlagSet, holdout bool) {
	fs.StringVar(&in.transactions, "transactions", "", "transaction file: CDNOW layout or CSV customer_id,date,quantity,amount")
	fs.StringVar(&in.journal, "journal", "", "read purchases from the service's journal directory instead")
	fs.StringVar(&in.event, "event", "purchase", "with --journal: the event type that is a purchase")
	fs.StringVar(&in.amountKey, "amount-key", "amount", "with --journal: the event property holding the amount")
	fs.StringVar(&in.end, "end", "", "last day of the calibration period, YYYY-MM-DD (default: the last purchase day)")
	if holdout {
		fs.StringVar(&in.holdoutEnd, "holdout-end", "", "last day of the holdout period (default: the last purchase day, when after --end)")
	}
}

// load reads the purchases and summarises them.
func (in *clvInput) load(fs *flag.FlagSet) (*clv.Summary, string, error) {
	if (in.transactions == "") == (in.journal == "") {
		return nil, "", usageErrorf(fs, "give one of --transactions and --journal")
	}
	var opt clv.SummaryOptions
	for _, d := range []struct {
		flag, v string
		dst     *clv.Date
	}{{"end", in.end, &opt.End}, {"holdout-end", in.holdoutEnd, &opt.HoldoutEnd}} {
		if d.v == "" {
			continue
		}
		v, err := clv.ParseDate(d.v)
		if err != nil {
			return nil, "", usageErrorf(fs, "--%s %q: %v", d.flag, d.v, err)
		}
		*d.dst = v
	}
	var txs []clv.Transaction
	var src string
	var err error
	if in.transactions != "" {
		src = in.transactions
		var data []byte
		if data, err = readInput("transactions", in.transactions); err != nil {
			return nil, "", err
		}
		if txs, err = clv.Parse(data); err != nil {
			return nil, "", fmt.Errorf("transactions %s: %w", in.transactions, err)
		}
	} else {
		src = in.journal
		if txs, err = journalPurchases(in.journal, in.event, in.amountKey); err != nil {
			return nil, "", err
		}
	}
	if len(txs) == 0 {
		return nil, "", fmt.Errorf("%s: no purchases", src)
	}
	last := txs[0].Date
	for _, t := range txs {
		last = max(last, t.Date)
	}
	if opt.End == 0 {
		opt.End = last
	}
	if opt.HoldoutEnd == 0 && fs.Lookup("holdout-end") != nil && last > opt.End {
		opt.HoldoutEnd = last
	}
	s, err := clv.Summarize(txs, opt)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", src, err)
	}
	return s, src, nil
}

// journalPurchases reads the journal's events of type event as
// transactions: the customer, the day of the event's time (UTC), the
// numeric property amountKey as the amount and "quantity" as the
// quantity if present. An event without a usable amount is an error
// naming its LSN.
func journalPurchases(dir, event, amountKey string) ([]clv.Transaction, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	var out []clv.Transaction
	var e journal.Event
	_, err := logs.EachRecord(context.Background(), dir, func(rec *journal.Record) error {
		if rec.Type != journal.TypeEvent {
			return nil
		}
		e = journal.Event{}
		if err := journal.DecodeEvent(rec.Payload, &e); err != nil {
			return fmt.Errorf("journal %s, LSN %d: %w", dir, rec.LSN, err)
		}
		if e.Type != event {
			return nil
		}
		amount, ok := e.Properties[amountKey].(float64)
		if !ok || amount < 0 || amount > clv.MaxNumber || e.CustomerID == "" {
			return fmt.Errorf("journal %s, LSN %d: %s event of customer %q without a non-negative number in property %q (got %v)",
				dir, rec.LSN, event, e.CustomerID, amountKey, e.Properties[amountKey])
		}
		q, _ := e.Properties["quantity"].(float64)
		out = append(out, clv.Transaction{Customer: e.CustomerID, Date: clv.DateOf(e.Time), Quantity: q, Amount: amount})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fitBoth fits BG/NBD on every customer and Gamma-Gamma on the repeat
// buyers.
func fitBoth(s *clv.Summary) (*clv.BGNBDFit, *clv.GammaGammaFit, error) {
	bg, err := clv.FitBGNBD(s.Histories())
	if err != nil {
		return nil, nil, err
	}
	gg, err := clv.FitGammaGamma(s.Histories())
	if err != nil {
		return nil, nil, err
	}
	return bg, gg, nil
}

func clvFit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clv fit", flag.ContinueOnError)
	var in clvInput
	in.flags(fs, false)
	asJSON := fs.Bool("json", false, "print a JSON object (keys r, alpha, a, b, p, q, gamma, se, ...)")
	apply := fs.String("apply", "", "service `URL` to load the fitted model into (PUT /admin/clv), so that profiles' CLV figures follow it")
	key := fs.String("key", "", "API key with the admin scope, for --apply")
	horizon := fs.Float64("horizon", 52, "with --apply: the CLV horizon in weeks")
	discount := fs.Float64("discount", 0.10, "with --apply: the annual discount rate")
	fs.Usage = func() { fmt.Fprint(stderr, clvUsage+"\nFlags of clv fit:\n"); fs.SetOutput(stderr); fs.PrintDefaults() }
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	s, src, err := in.load(fs)
	if err != nil {
		return err
	}
	bg, gg, err := fitBoth(s)
	if err != nil {
		return err
	}
	if *apply != "" {
		doc := fitJSON(s, src, bg, gg)
		doc["horizon_weeks"], doc["annual_discount"] = *horizon, *discount
		var live map[string]any
		h := &loop.HTTPService{Target: *apply, Token: *key}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Do(ctx, "PUT", "/admin/clv", doc, &live); err != nil {
			return fmt.Errorf("cannot load the model into %s: %w", *apply, err)
		}
		fmt.Fprintf(stderr, "loaded CLV model %v into %s\n", live["version"], *apply)
	}
	if *asJSON {
		return writeJSON(stdout, fitJSON(s, src, bg, gg))
	}
	weeks := s.Age(s.Start, s.End+1)
	fmt.Fprintf(stdout, "%s: %d customers, calibration %s to %s (%.1f weeks; time unit: week)", src, len(s.Customers), s.Start, s.End, weeks)
	if s.Late > 0 {
		fmt.Fprintf(stdout, "; %d customers first buying after %s left out", s.Late, s.End)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "\nBG/NBD on %d customers, log-likelihood %.4f\n", bg.Customers, bg.LogLikelihood)
	for _, p := range []struct {
		name    string
		est, se float64
	}{{"r", bg.Params.R, bg.SE.R}, {"alpha", bg.Params.Alpha, bg.SE.Alpha}, {"a", bg.Params.A, bg.SE.A}, {"b", bg.Params.B, bg.SE.B}} {
		fmt.Fprintf(stdout, "  %-6s %10.5f  (SE %.5f)\n", p.name, p.est, p.se)
	}
	fmt.Fprintf(stdout, "\nGamma-Gamma on %d customers with repeat purchases (mean repeat spend), log-likelihood %.4f\n", gg.Customers, gg.LogLikelihood)
	for _, p := range []struct {
		name    string
		est, se float64
	}{{"p", gg.Params.P, gg.SE.P}, {"q", gg.Params.Q, gg.SE.Q}, {"gamma", gg.Params.Gamma, gg.SE.Gamma}} {
		fmt.Fprintf(stdout, "  %-6s %10.5f  (SE %.5f)\n", p.name, p.est, p.se)
	}
	return nil
}

// fitJSON is the JSON of "clv fit --json": the seven parameters at the
// top level, then their standard errors and the fits' details.
func fitJSON(s *clv.Summary, src string, bg *clv.BGNBDFit, gg *clv.GammaGammaFit) map[string]any {
	return map[string]any{
		"r": bg.Params.R, "alpha": bg.Params.Alpha, "a": bg.Params.A, "b": bg.Params.B,
		"p": gg.Params.P, "q": gg.Params.Q, "gamma": gg.Params.Gamma,
		"se": map[string]float64{
			"r": bg.SE.R, "alpha": bg.SE.Alpha, "a": bg.SE.A, "b": bg.SE.B,
			"p": gg.SE.P, "q": gg.SE.Q, "gamma": gg.SE.Gamma,
		},
		"log_likelihood": map[string]float64{"bgnbd": bg.LogLikelihood, "gamma_gamma": gg.LogLikelihood},
		"customers":      bg.Customers,
		"repeat_buyers":  gg.Customers,
		"late_customers": s.Late,
		"source":         src,
		"calibration":    map[string]any{"start": s.Start, "end": s.End, "weeks": s.Age(s.Start, s.End+1)},
		"time_unit":      "week",
		"cov":            map[string]any{"bgnbd": bg.Cov, "gamma_gamma": gg.Cov},
	}
}

func clvReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clv report", flag.ContinueOnError)
	var in clvInput
	in.flags(fs, true)
	var opt clv.ReportOptions
	out := fs.String("out", "", "the HTML report to write (required); the per-customer file goes beside it")
	format := fs.String("format", "csv", "per-customer file beside the report: csv or json (the whole report)")
	csvPath := fs.String("csv", "", "also write the per-customer CSV to this file")
	fs.Float64Var(&opt.Weeks, "horizon", 52, "CLV horizon in weeks")
	fs.Float64Var(&opt.StepWeeks, "step", 52.0/12, "CLV step in weeks (purchases of step k are discounted k times)")
	fs.Float64Var(&opt.AnnualDiscount, "discount", 0.10, "discount rate a year (0.10 = 10%)")
	fs.IntVar(&opt.Top, "top", 20, "customers listed on the page")
	fs.Usage = func() {
		fmt.Fprint(stderr, clvUsage+"\nFlags of clv report:\n")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf(fs, "--out is required")
	}
	if *format != "csv" && *format != "json" {
		return usageErrorf(fs, "--format %q: want csv or json", *format)
	}
	if !(opt.Weeks > 0) || !(opt.StepWeeks > 0) || !(opt.AnnualDiscount > -1) || opt.Top < 1 {
		return usageErrorf(fs, "--horizon and --step must be > 0, --discount > -1, --top ≥ 1")
	}
	s, src, err := in.load(fs)
	if err != nil {
		return err
	}
	bg, gg, err := fitBoth(s)
	if err != nil {
		return err
	}
	beside := strings.TrimSuffix(*out, filepath.Ext(*out)) + "." + *format
	if beside == *out {
		beside = *out + "." + *format
	}
	opt.Source = src
	opt.Files = []string{filepath.Base(beside)}
	r, err := clv.BuildReport(s, bg, gg, opt)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	writers := []struct {
		path  string
		write func(io.Writer) error
	}{{*out, r.WriteHTML}, {beside, r.WriteCustomersCSV}}
	if *format == "json" {
		writers[1].write = r.WriteJSON
	}
	if *csvPath != "" {
		writers = append(writers, struct {
			path  string
			write func(io.Writer) error
		}{*csvPath, r.WriteCustomersCSV})
	}
	for _, w := range writers {
		var buf bytes.Buffer
		if err := w.write(&buf); err != nil {
			return fmt.Errorf("clv report: %w", err)
		}
		if err := os.WriteFile(w.path, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("clv report: %w", err)
		}
	}
	fmt.Fprintf(stdout, "%s\n", strings.Join(r.Headline(), "\n"))
	fmt.Fprintf(stdout, "wrote %s and %s\n", *out, beside)
	return nil
}
