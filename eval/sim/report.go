package sim

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// WriteMarkdown writes the benchmark's summary table: per policy, the mean
// ± standard deviation over seeds of the cumulative expected reward, the
// regret against the oracle and the share of the oracle's reward.
func (br *BenchResult) WriteMarkdown(w io.Writer) error {
	seeds := ""
	for i, s := range br.Seeds {
		if i > 0 {
			seeds += ", "
		}
		seeds += strconv.FormatUint(s, 10)
	}
	_, err := fmt.Fprintf(w, "Horizon %d visits, seeds %s (mean ± sd over %d seeds). Reward is the true expected reward\n"+
		"(conversion probability × action value, EUR) of the chosen actions; the oracle column is the best eligible\n"+
		"action's on the same visits; regret = oracle − reward; share = reward / oracle. The oracle is myopic: on the\n"+
		"policy's own visits it is the best single choice, but its own run (last row) fatigues the best actions,\n"+
		"so the last column compares whole runs: reward / the oracle run's reward on the same seed.\n\n"+
		"| policy | cumulative reward | oracle | regret | share of oracle | realized reward | vs oracle run | s/run |\n"+
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n", br.Horizon, seeds, len(br.Seeds))
	if err != nil {
		return err
	}
	for _, p := range br.Policies {
		_, err := fmt.Fprintf(w, "| %s | %.0f ± %.0f | %.0f ± %.0f | %.0f ± %.0f | %.3f ± %.3f | %.0f ± %.0f | %.3f ± %.3f | %.1f |\n",
			p.Policy, p.Reward.Mean, p.Reward.SD, p.Oracle.Mean, p.Oracle.SD, p.Regret.Mean, p.Regret.SD,
			p.Share.Mean, p.Share.SD, p.Realized.Mean, p.Realized.SD, p.VsOracleRun.Mean, p.VsOracleRun.SD, p.Seconds)
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteCSV writes one row per run.
func (br *BenchResult) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"policy", "seed", "visits", "decisions", "reward", "oracle", "regret", "share", "realized", "vs_oracle_run", "seconds"})
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
	for _, r := range br.Runs {
		cw.Write([]string{r.Policy, strconv.FormatUint(r.Seed, 10), strconv.Itoa(r.Visits), strconv.Itoa(r.Decisions),
			f(r.Reward), f(r.Oracle), f(r.Regret), f(r.Share), f(r.Realized), f(r.VsOracleRun), f(r.Elapsed.Seconds())})
	}
	cw.Flush()
	return cw.Error()
}

// WriteRegretChart writes the mean cumulative regret of each policy over
// the horizon as an image; the format follows the file name's extension
// (.svg, .png, .pdf).
func (br *BenchResult) WriteRegretChart(path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Cumulative regret against the oracle (mean of %d seeds)", len(br.Seeds))
	p.X.Label.Text = "visits"
	p.Y.Label.Text = "cumulative regret (EUR of expected reward)"
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	palette := []color.RGBA{
		{0x99, 0x99, 0x99, 255}, {0xe6, 0x9f, 0x00, 255}, {0x00, 0x72, 0xb2, 255}, {0x56, 0xb4, 0xe9, 255},
		{0xcc, 0x79, 0xa7, 255}, {0xd5, 0x5e, 0x00, 255}, {0x00, 0x9e, 0x73, 255}, {0x00, 0x00, 0x00, 255},
	}
	for i, ps := range br.Policies {
		pts := make(plotter.XYs, 0, len(ps.Curve)+1)
		pts = append(pts, plotter.XY{})
		for j, y := range ps.Curve {
			pts = append(pts, plotter.XY{X: float64(ps.CurveAt[j]), Y: y})
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(ps.Policy, l)
	}
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}
