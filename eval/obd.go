package eval

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
	"gopkg.in/yaml.v3"
)

// OBDRow is one row of an Open Bandit Dataset log: one item shown in one
// position of the three-item widget, whether it was clicked, and the
// logging policy's probability of that item in that position.
type OBDRow struct {
	Item       int
	Position   int // 0-based: the CSV's 1 (left), 2, 3 minus one
	Click      float64
	Propensity float64
	// User holds the hashed user features user_feature_0.. as given, and
	// Affinity the user-item affinities user-item_affinity_0.. (one per
	// item); both nil when the log has no such columns.
	User     []string
	Affinity []float64
}

// ReadOBDLog parses an OBD log, {random,bts}/<campaign>/<campaign>.csv.
// Columns are found by name: item_id, position (1-based), click and
// propensity_score are required; user_feature_0.. and
// user-item_affinity_0.. are read when present (consecutive from 0); the
// others (the unnamed index, timestamp) are ignored, so a slimmed copy
// with only the columns read reads the same.
func ReadOBDLog(r io.Reader) ([]OBDRow, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	h, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: OBD log header: %w", ErrFormat, err)
	}
	idx, err := columnIndex(h, []string{"item_id", "position", "click", "propensity_score"})
	if err != nil {
		return nil, fmt.Errorf("%w: OBD log: %w", ErrFormat, err)
	}
	user, aff := numberedColumns(h, "user_feature_"), numberedColumns(h, "user-item_affinity_")
	intern := map[string]string{}
	var rows []OBDRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: OBD log: %w", ErrFormat, err)
		}
		line, _ := cr.FieldPos(0)
		item, err1 := strconv.Atoi(rec[idx[0]])
		pos, err2 := strconv.Atoi(rec[idx[1]])
		click, err3 := strconv.ParseFloat(rec[idx[2]], 64)
		p, err4 := strconv.ParseFloat(rec[idx[3]], 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("%w: OBD log line %d: %w", ErrFormat, line, err)
		}
		if item < 0 || pos < 1 || (click != 0 && click != 1) || !(p > 0 && p <= 1) {
			return nil, fmt.Errorf("%w: OBD log line %d: item %d, position %d, click %v, propensity %v out of range",
				ErrFormat, line, item, pos, click, p)
		}
		row := OBDRow{Item: item, Position: pos - 1, Click: click, Propensity: p}
		if len(user) > 0 {
			row.User = make([]string, len(user))
			for k, j := range user {
				v, ok := intern[rec[j]]
				if !ok {
					v = strings.Clone(rec[j])
					intern[v] = v
				}
				row.User[k] = v
			}
		}
		if len(aff) > 0 {
			row.Affinity = make([]float64, len(aff))
			for k, j := range aff {
				if row.Affinity[k], err = strconv.ParseFloat(rec[j], 64); err != nil || row.Affinity[k] < 0 {
					return nil, fmt.Errorf("%w: OBD log line %d: affinity %d: %q", ErrFormat, line, k, rec[j])
				}
			}
		}
		rows = append(rows, row)
	}
}

// numberedColumns returns the positions of the columns prefix0, prefix1,
// … in header, up to the first number missing.
func numberedColumns(header []string, prefix string) []int {
	col := make(map[string]int, len(header))
	for j, name := range header {
		col[strings.TrimSpace(name)] = j
	}
	var out []int
	for k := 0; ; k++ {
		j, ok := col[prefix+strconv.Itoa(k)]
		if !ok {
			return out
		}
		out = append(out, j)
	}
}

// OBDItem is a row of item_context.csv. Feature0 is numeric; Features
// holds item_feature_1.. as given (hashes, consistent within one file).
type OBDItem struct {
	ID       int
	Feature0 float64
	Features []string
}

// ReadOBDItems parses item_context.csv. Item ids must be 0..n-1, in any
// order; the result is indexed by id.
func ReadOBDItems(r io.Reader) ([]OBDItem, error) {
	cr := csv.NewReader(r)
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: item context: %w", ErrFormat, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("%w: item context: no items", ErrFormat)
	}
	col := map[string]int{}
	for j, name := range recs[0] {
		col[name] = j
	}
	jid, ok1 := col["item_id"]
	jf0, ok2 := col["item_feature_0"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: item context needs item_id and item_feature_0", ErrFormat)
	}
	items := make([]OBDItem, len(recs)-1)
	seen := make([]bool, len(items))
	for _, rec := range recs[1:] {
		id, err1 := strconv.Atoi(rec[jid])
		f0, err2 := strconv.ParseFloat(rec[jf0], 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%w: item context: %w", ErrFormat, err)
		}
		if id < 0 || id >= len(items) || seen[id] {
			return nil, fmt.Errorf("%w: item context: item id %d not in 0..%d or repeated", ErrFormat, id, len(items)-1)
		}
		seen[id] = true
		var fs []string
		for k := 1; ; k++ {
			j, ok := col["item_feature_"+strconv.Itoa(k)]
			if !ok {
				break
			}
			fs = append(fs, rec[j])
		}
		items[id] = OBDItem{ID: id, Feature0: f0, Features: fs}
	}
	return items, nil
}

// BetaPrior holds a Beta(Alpha[i], Beta[i]) distribution per item: the
// production Bernoulli Thompson sampling policy's posterior in OBD.
type BetaPrior struct {
	Alpha []float64 `yaml:"alpha" json:"alpha"`
	Beta  []float64 `yaml:"beta" json:"beta"`
}

// ReadBTSPrior reads one campaign's prior from prior_bts.yaml (the Open
// Bandit Pipeline's obp/policy/conf/prior_bts.yaml: campaign → alpha, beta).
func ReadBTSPrior(r io.Reader, campaign string) (BetaPrior, error) {
	var all map[string]BetaPrior
	if err := yaml.NewDecoder(r).Decode(&all); err != nil {
		return BetaPrior{}, fmt.Errorf("%w: BTS prior: %w", ErrFormat, err)
	}
	p, ok := all[campaign]
	if !ok {
		return BetaPrior{}, fmt.Errorf("%w: BTS prior has no campaign %q", ErrFormat, campaign)
	}
	if err := p.validate(); err != nil {
		return BetaPrior{}, err
	}
	return p, nil
}

func (p BetaPrior) validate() error {
	if len(p.Alpha) == 0 || len(p.Alpha) != len(p.Beta) {
		return fmt.Errorf("%w: BTS prior: %d alphas, %d betas", ErrFormat, len(p.Alpha), len(p.Beta))
	}
	for i := range p.Alpha {
		if !(p.Alpha[i] > 0 && p.Beta[i] > 0) || math.IsInf(p.Alpha[i]+p.Beta[i], 0) {
			return fmt.Errorf("%w: BTS prior item %d: Beta(%v, %v)", ErrFormat, i, p.Alpha[i], p.Beta[i])
		}
	}
	return nil
}

// replayBatches is the number of independent batches the Monte Carlo
// replay is split into: they run in parallel, and the spread of the
// estimates between batches gives the Monte Carlo error (batch means).
const replayBatches = 8

// BTSReplay is the Bernoulli-TS policy's probability of each item in each
// position, estimated by Monte Carlo: draw θᵢ ~ Beta(αᵢ, βᵢ) for every
// item, rank the items by θ, and put the k-th highest in position k.
type BTSReplay struct {
	// Probs[k][i] is the estimated probability of item i in position k.
	Probs [][]float64
	// Batches[b] are the same probabilities from batch b alone (Draws /
	// 8 draws each, independent streams).
	Batches [][][]float64
	Draws   int
	Seed    uint64
}

// ReplayBTS estimates the policy's position probabilities from draws
// Monte Carlo draws, seeded by seed: batch b uses PCG(seed, b). The result
// depends only on (prior, positions, draws, seed).
func ReplayBTS(prior BetaPrior, positions, draws int, seed uint64) (*BTSReplay, error) {
	if err := prior.validate(); err != nil {
		return nil, err
	}
	n := len(prior.Alpha)
	if positions < 1 || positions > n || draws < replayBatches {
		return nil, fmt.Errorf("%w: replay of %d positions of %d items with %d draws", ErrInvalidOptions, positions, n, draws)
	}
	counts := make([][][]float64, replayBatches)
	per := make([]int, replayBatches)
	var wg sync.WaitGroup
	for b := range replayBatches {
		per[b] = draws / replayBatches
		if b < draws%replayBatches {
			per[b]++
		}
		wg.Go(func() { counts[b] = replayBatch(prior, positions, per[b], rand.NewPCG(seed, uint64(b))) })
	}
	wg.Wait()
	rp := &BTSReplay{Probs: zeros(positions, n), Batches: counts, Draws: draws, Seed: seed}
	for b := range counts {
		for k := range positions {
			for i := range n {
				rp.Probs[k][i] += counts[b][k][i]
				counts[b][k][i] /= float64(per[b])
			}
		}
	}
	for k := range positions {
		for i := range n {
			rp.Probs[k][i] /= float64(draws)
		}
	}
	return rp, nil
}

func zeros(r, c int) [][]float64 {
	m := make([][]float64, r)
	for i := range m {
		m[i] = make([]float64, c)
	}
	return m
}

// replayBatch counts, over draws, how often each item lands in each
// position.
func replayBatch(prior BetaPrior, positions, draws int, src rand.Source) [][]float64 {
	n := len(prior.Alpha)
	dists := make([]distuv.Beta, n)
	for i := range dists {
		dists[i] = distuv.Beta{Alpha: prior.Alpha[i], Beta: prior.Beta[i], Src: src}
	}
	counts := zeros(positions, n)
	theta := make([]float64, n)
	top := make([]int, positions)
	for range draws {
		for i := range dists {
			theta[i] = dists[i].Rand()
		}
		// Insertion into the running top list: O(n·positions).
		m := 0
		for i, t := range theta {
			if m == positions && t <= theta[top[m-1]] {
				continue
			}
			j := min(m, positions-1)
			for j > 0 && theta[top[j-1]] < t {
				top[j] = top[j-1]
				j--
			}
			top[j] = i
			m = min(m+1, positions)
		}
		for k, i := range top {
			counts[k][i]++
		}
	}
	return counts
}

// MaxSE is the largest binomial standard error √(p(1−p)/Draws) of any
// replayed probability.
func (rp *BTSReplay) MaxSE() float64 {
	var m float64
	for _, row := range rp.Probs {
		for _, p := range row {
			m = max(m, math.Sqrt(p*(1-p)/float64(rp.Draws)))
		}
	}
	return m
}

// OBDData is one campaign of the Open Bandit Dataset: both logs, the item
// context and the BTS policy's prior.
type OBDData struct {
	Campaign string
	Random   []OBDRow // logged by the uniform Random policy
	BTS      []OBDRow // logged by Bernoulli Thompson sampling
	Items    []OBDItem
	Prior    BetaPrior
}

// LoadOBD reads a campaign from dir, laid out as upstream's
// obp/dataset/obd: random/<c>/<c>.csv, bts/<c>/<c>.csv,
// random/<c>/item_context.csv and prior_bts.yaml. Each file may instead be
// gzip-compressed with a .gz suffix (the test fixture is).
func LoadOBD(dir, campaign string) (*OBDData, error) {
	d := &OBDData{Campaign: campaign}
	read := func(rel string, parse func(io.Reader) error) error {
		path := filepath.Join(dir, rel)
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			f, err = os.Open(path + ".gz")
			path += ".gz"
		}
		if err != nil {
			return fmt.Errorf("cannot open OBD file: %w", err)
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				return fmt.Errorf("cannot read %q: %w", path, err)
			}
			defer zr.Close()
			r = zr
		}
		if err := parse(r); err != nil {
			return fmt.Errorf("cannot read %q: %w", path, err)
		}
		return nil
	}
	var err error
	c := campaign
	for _, step := range []error{
		read(filepath.Join("random", c, c+".csv"), func(r io.Reader) error { d.Random, err = ReadOBDLog(r); return err }),
		read(filepath.Join("bts", c, c+".csv"), func(r io.Reader) error { d.BTS, err = ReadOBDLog(r); return err }),
		read(filepath.Join("random", c, "item_context.csv"), func(r io.Reader) error { d.Items, err = ReadOBDItems(r); return err }),
		read("prior_bts.yaml", func(r io.Reader) error { d.Prior, err = ReadBTSPrior(r, c); return err }),
	} {
		if step != nil {
			return nil, step
		}
	}
	return d, nil
}

// OBDConfig configures EvaluateOBD. The zero value means the defaults.
type OBDConfig struct {
	// Draws is the number of Monte Carlo draws of the BTS replay; 0 means
	// 1,000,000.
	Draws int
	// Seed seeds the replay (ReplayBTS), the cross-fitting folds and the
	// refitting bootstrap.
	Seed uint64
	// Folds is the number of cross-fitting folds of the reward model; 0
	// means 2.
	Folds int
	// Model is the reward model of DM and the doubly robust estimators:
	// OBDModelLogistic (the default) or OBDModelCells.
	Model string
	// L2 is the logistic model's penalty; 0 means 1.
	L2 float64
	// Smoothing is the cell model's prior strength m in pseudo-rows; 0
	// means 100 (about the Random rows per item×position cell).
	Smoothing float64
	// Target is the BTS action distribution to evaluate: OBDTargetReplay
	// (the default) or OBDTargetEmpirical.
	Target string
	// Options are passed to the estimators; Options.Model, Folds and Seed
	// are set from the fields above.
	Options Options
}

// The reward models of EvaluateOBD.
const (
	// OBDModelLogistic is a logistic regression of the click on the
	// item (one-hot), the position (one-hot), the four hashed user
	// features (one-hot), the item's features (item_feature_0 and the
	// one-hot of item_feature_1..3) and the user's affinity for the item,
	// ln(1 + user-item_affinity), with L2 penalty OBDConfig.L2.
	OBDModelLogistic = "logistic"
	// OBDModelCells is the CTR of each item×position cell smoothed
	// towards the position's CTR, (clicks + m·ctr_k)/(rows + m): it
	// ignores the user and item features.
	OBDModelCells = "cells"
)

// The targets of EvaluateOBD.
const (
	// OBDTargetReplay is the Open Bandit Pipeline's standard target: the
	// BTS policy replayed from its prior (prior_bts.yaml) by Monte Carlo,
	// ReplayBTS. The production policy was updated during the week, so the
	// replay is a snapshot, not exactly the policy that logged bts/.
	OBDTargetReplay = "replay"
	// OBDTargetEmpirical is the time-averaged policy that actually ran:
	// the frequency of each item in each position in the BTS log. It uses
	// the BTS log's rows but not its clicks.
	OBDTargetEmpirical = "empirical"
)

// OBDEstimate is an off-policy estimate of BTS's CTR compared with its
// on-policy CTR.
type OBDEstimate struct {
	Estimate
	// TargetSE is the error of Value due to the target probabilities being
	// estimated (Monte Carlo draws of the replay, or the finite BTS log):
	// the spread of Value recomputed with each of 8 independent batches'
	// probabilities, over √8 (batch means).
	TargetSE float64 `json:"target_se"`
	// RelError is |Value − on-policy CTR| / on-policy CTR.
	RelError float64 `json:"rel_error"`
	// Z is (Value − on-policy CTR) / √(SE² + SE_on²): the two samples are
	// independent, so |Z| > 1.96 is a significant disagreement.
	Z float64 `json:"z"`
	// Covers says whether the interval [Lo, Hi] contains the on-policy
	// CTR (itself an estimate: Z is the test that allows for its error).
	Covers bool `json:"covers_on_policy"`
}

// OBDReport is the result of EvaluateOBD.
type OBDReport struct {
	Campaign   string `json:"campaign"`
	Items      int    `json:"items"`
	Positions  int    `json:"positions"`
	RandomRows int    `json:"random_rows"`
	BTSRows    int    `json:"bts_rows"`
	Seed       uint64 `json:"seed"`
	// Target is OBDTargetReplay or OBDTargetEmpirical, TargetInfo says
	// how it was computed.
	Target     string `json:"target"`
	TargetInfo string `json:"target_info"`
	// TargetMaxSE is the largest binomial standard error of a target
	// probability: √(p(1−p)/draws) for the replay, √(p(1−p)/rows in the
	// position) for the empirical target.
	TargetMaxSE float64 `json:"target_max_se"`
	// TargetMaxAbsDiff and TargetMeanAbsDiff compare the target
	// probability of each BTS row's item and position with the propensity
	// BTS logged at that time. The logged ones moved during the week (the
	// policy was updated), so no fixed target matches them exactly.
	TargetMaxAbsDiff  float64 `json:"target_max_abs_diff"`
	TargetMeanAbsDiff float64 `json:"target_mean_abs_diff"`
	RewardModel       string  `json:"reward_model"`
	// OnPolicy is BTS's observed CTR, the mean click of its own log, with
	// a t interval.
	OnPolicy  Estimate      `json:"on_policy"`
	Estimates []OBDEstimate `json:"estimates"`
	// Selection is SLOPE's choice among Estimates (Select), with the
	// chosen interval widened for the choice.
	Selection Selection `json:"selection"`
	// Comparison is BTS (the candidate) against Random (the serving
	// policy) on the Random log, with DR: the paired difference estimates
	// CTR_BTS − CTR_Random, whose on-policy value is OnPolicy − the Random
	// log's mean click.
	Comparison Comparison `json:"comparison"`
}

// EvaluateOBD estimates the Bernoulli-TS policy's CTR from the Random
// policy's log and compares each estimate with BTS's on-policy CTR.
//
// Each Random row is a round ("position-wise" evaluation, as the Open
// Bandit Pipeline does): the logged item, its exact propensity 1/n_items,
// the click, and as target the BTS distribution over items for the row's
// position. The reward model for DM and the doubly robust estimators is
// OBDConfig.Model, fitted by the estimators themselves (Options.Model):
// cross-fitted, and refitted on bootstrap resamples for DM's interval.
// It runs the same on any campaign that LoadOBD reads.
func EvaluateOBD(d *OBDData, cfg OBDConfig) (*OBDReport, error) {
	if cfg.Draws == 0 {
		cfg.Draws = 1_000_000
	}
	if cfg.Folds == 0 {
		cfg.Folds = 2
	}
	if cfg.Smoothing == 0 {
		cfg.Smoothing = 100
	}
	if cfg.Model == "" {
		cfg.Model = OBDModelLogistic
	}
	if cfg.L2 == 0 {
		cfg.L2 = 1
	}
	if cfg.Folds < 2 || cfg.Smoothing < 0 || cfg.L2 < 0 {
		return nil, fmt.Errorf("%w: folds %d, smoothing %v, L2 %v", ErrInvalidOptions, cfg.Folds, cfg.Smoothing, cfg.L2)
	}
	n := len(d.Prior.Alpha)
	if len(d.Items) != 0 && len(d.Items) != n {
		return nil, fmt.Errorf("%w: %d items in the context, %d in the prior", ErrFormat, len(d.Items), n)
	}
	if len(d.Random) < 2 || len(d.BTS) < 2 {
		return nil, fmt.Errorf("%w: %d Random and %d BTS rows", ErrTooFewRounds, len(d.Random), len(d.BTS))
	}
	positions := 0
	for _, rows := range [][]OBDRow{d.Random, d.BTS} {
		for _, r := range rows {
			if r.Item >= n {
				return nil, fmt.Errorf("%w: item %d but only %d items", ErrFormat, r.Item, n)
			}
			positions = max(positions, r.Position+1)
		}
	}
	rep := &OBDReport{Campaign: d.Campaign, Items: n, Positions: positions, RandomRows: len(d.Random), BTSRows: len(d.BTS),
		Seed: cfg.Seed, Target: cfg.Target}
	var probs [][]float64
	var batches [][][]float64
	switch cfg.Target {
	case OBDTargetReplay, "":
		rep.Target = OBDTargetReplay
		rp, err := ReplayBTS(d.Prior, positions, cfg.Draws, cfg.Seed)
		if err != nil {
			return nil, err
		}
		probs, batches = rp.Probs, rp.Batches
		rep.TargetMaxSE = rp.MaxSE()
		rep.TargetInfo = fmt.Sprintf("BTS replayed from prior_bts.yaml: θ ~ Beta(α, β) per item, k-th highest to position k; %d Monte Carlo draws, seed %d", cfg.Draws, cfg.Seed)
	case OBDTargetEmpirical:
		probs, batches = empiricalTarget(d.BTS, positions, n)
		for k, row := range probs {
			var nk float64
			for _, r := range d.BTS {
				if r.Position == k {
					nk++
				}
			}
			for _, p := range row {
				rep.TargetMaxSE = max(rep.TargetMaxSE, math.Sqrt(p*(1-p)/nk))
			}
		}
		rep.TargetInfo = fmt.Sprintf("BTS as it ran: frequency of each item per position in the BTS log (%d rows; clicks unused)", len(d.BTS))
	default:
		return nil, fmt.Errorf("%w: OBD target %q (want %q or %q)", ErrInvalidOptions, cfg.Target, OBDTargetReplay, OBDTargetEmpirical)
	}
	for _, r := range d.BTS {
		diff := math.Abs(probs[r.Position][r.Item] - r.Propensity)
		rep.TargetMaxAbsDiff = max(rep.TargetMaxAbsDiff, diff)
		rep.TargetMeanAbsDiff += diff / float64(len(d.BTS))
	}

	// On-policy CTR of BTS.
	clicks := make([]float64, len(d.BTS))
	for i, r := range d.BTS {
		clicks[i] = r.Click
	}
	rep.OnPolicy = meanCI(clicks, cfg.Options)
	rep.OnPolicy.Estimator = "on-policy BTS CTR"

	// The reward model.
	var model RewardModel
	switch cfg.Model {
	case OBDModelLogistic:
		sp := newOBDSpace(d, positions)
		model = &LogisticModel{Dim: sp.dim, Features: sp.features, L2: cfg.L2}
		rep.RewardModel = fmt.Sprintf("logistic regression of the click on %s (%d features), L2 %g", sp.describe(), sp.dim, cfg.L2)
	case OBDModelCells:
		model = &CellModel{Cells: positions * n, Groups: positions, M: cfg.Smoothing,
			Cell:  func(r *Round, a int) int { return r.Position*n + a },
			Group: func(r *Round, a int) int { return r.Position }}
		rep.RewardModel = fmt.Sprintf("item×position CTR smoothed toward the position CTR with m=%g pseudo-rows", cfg.Smoothing)
	default:
		return nil, fmt.Errorf("%w: OBD reward model %q (want %q or %q)", ErrInvalidOptions, cfg.Model, OBDModelLogistic, OBDModelCells)
	}
	o := cfg.Options
	o.Model, o.Folds, o.Seed = model, cfg.Folds, cfg.Seed
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Bootstrap > 0 {
		rep.RewardModel += fmt.Sprintf(", %d-fold cross-fitted (seed %d); DM's and the DR estimators' intervals from %d refits", o.Folds, o.Seed, o.Bootstrap)
	} else {
		rep.RewardModel += fmt.Sprintf(", %d-fold cross-fitted (seed %d); DM's interval from %d refits", o.Folds, o.Seed, o.Refits)
	}

	// The Random policy's full distribution, when the log is uniform.
	var uniform []float64
	u := 1 / float64(n)
	isUniform := true
	for _, r := range d.Random {
		isUniform = isUniform && math.Abs(r.Propensity-u) < 1e-12
	}
	if isUniform {
		uniform = make([]float64, n)
		for i := range uniform {
			uniform[i] = u
		}
	}
	base := make([]Round, len(d.Random))
	ctx := obdContexts(d)
	for i, r := range d.Random {
		base[i] = Round{Logged: r.Item, Propensity: r.Propensity, Reward: r.Click, Target: probs[r.Position],
			Logging: uniform, Position: r.Position, Context: ctx[i]}
	}
	// Select runs every estimator, and SLOPE's choice on the same
	// refitting resamples; the estimates in report order
	sel, err := Select(base, o)
	if err != nil {
		return nil, err
	}
	rep.Selection = sel
	var ests []Estimate
	for _, e := range AllEstimators() {
		for _, c := range sel.Candidates {
			if c.Estimator == e.String() {
				ests = append(ests, c)
			}
		}
	}
	// The cross-fitted model's predictions, the same the estimators used
	// (same folds, same seed), for the target batches below.
	fitted, err := CrossFit(base, model, o.Folds, o.Seed)
	if err != nil {
		return nil, err
	}
	rounds := func(target [][]float64) []Round {
		rs := slices.Clone(fitted)
		for i := range rs {
			rs[i].Target = target[rs[i].Position]
		}
		return rs
	}
	// Target error: every estimate recomputed with each batch's
	// probabilities at the chosen tuning; batch means.
	vals := make([][]float64, len(ests)) // [estimate][batch]
	for _, probs := range batches {
		bd, err := prepare(rounds(probs), o)
		if err != nil {
			return nil, err
		}
		for j, e := range ests {
			est, _ := ParseEstimator(e.Estimator)
			v, _, err := bd.analytic(est, e.hyper())
			if err != nil {
				return nil, err
			}
			vals[j] = append(vals[j], v)
		}
	}
	on := rep.OnPolicy
	for j, e := range ests {
		oe := OBDEstimate{Estimate: e}
		oe.TargetSE = stat.StdDev(vals[j], nil) / math.Sqrt(float64(len(vals[j])))
		oe.RelError = math.Abs(e.Value-on.Value) / on.Value
		oe.Z = (e.Value - on.Value) / math.Hypot(e.SE, on.SE)
		oe.Covers = e.Lo <= on.Value && on.Value <= e.Hi
		rep.Estimates = append(rep.Estimates, oe)
	}
	oc := o
	oc.Model = nil // DR's interval is analytic: the cross-fitted Qhat suffice
	if rep.Comparison, err = Compare(fitted, DR, oc); err != nil {
		return nil, err
	}
	return rep, nil
}

// empiricalTarget is the frequency of each item per position in log, and
// the same from 8 interleaved batches of its rows (row i in batch i mod 8).
func empiricalTarget(log []OBDRow, positions, n int) ([][]float64, [][][]float64) {
	freq := func(keep func(i int) bool) [][]float64 {
		p := zeros(positions, n)
		tot := make([]float64, positions)
		for i, r := range log {
			if keep(i) {
				p[r.Position][r.Item]++
				tot[r.Position]++
			}
		}
		for k := range p {
			for i := range p[k] {
				if tot[k] > 0 {
					p[k][i] /= tot[k]
				} else {
					p[k][i] = 1 / float64(n) // a position never logged: uniform
				}
			}
		}
		return p
	}
	batches := make([][][]float64, replayBatches)
	for b := range batches {
		batches[b] = freq(func(i int) bool { return i%replayBatches == b })
	}
	return freq(func(int) bool { return true }), batches
}

// meanCI is the sample mean of x with its t(n−1) interval at o's level.
func meanCI(x []float64, o Options) Estimate {
	o, _ = o.withDefaults()
	m, sd := stat.MeanStdDev(x, nil)
	se := sd / math.Sqrt(float64(len(x)))
	q := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(x) - 1)}.Quantile(1 - (1-o.Level)/2)
	return Estimate{Value: m, SE: se, Lo: m - q*se, Hi: m + q*se, Level: o.Level, Interval: "CLT, t(n-1)", N: len(x), ESS: float64(len(x))}
}
