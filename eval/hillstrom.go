package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Arm is an arm of the Hillstrom e-mail trial.
type Arm int

// The arms, numbered as the rounds' actions.
const (
	MensEmail Arm = iota
	WomensEmail
	NoEmail
	// NumArms is the number of arms.
	NumArms = 3
)

// TrialPropensity is the Hillstrom trial's design probability of each arm.
const TrialPropensity = 1.0 / NumArms

var armNames = [NumArms]string{"Mens E-Mail", "Womens E-Mail", "No E-Mail"}

// String returns the arm's name as the data spell it ("Mens E-Mail", ...).
func (a Arm) String() string {
	if a >= 0 && a < NumArms {
		return armNames[a]
	}
	return fmt.Sprintf("Arm(%d)", int(a))
}

// Customer is one row of hillstrom.csv.
type Customer struct {
	Recency        int     // months since last purchase, 1..12
	HistorySegment int     // bucket of past-year spend, 1..7 (the leading "1)".."7)")
	History        float64 // past-year spend, $
	Mens, Womens   bool    // bought mens/womens merchandise in the past year
	ZipCode        string  // "Urban", "Surburban" (sic), "Rural"
	Newbie         bool
	Channel        string // "Phone", "Web", "Multichannel"
	Arm            Arm    // the randomised arm
	Visit          bool
	Conversion     bool
	Spend          float64
}

// Outcome selects the outcome a policy is evaluated on.
type Outcome int

// The outcomes.
const (
	Visit Outcome = iota
	Conversion
	Spend
)

// String returns "visit", "conversion" or "spend".
func (o Outcome) String() string {
	switch o {
	case Visit:
		return "visit"
	case Conversion:
		return "conversion"
	case Spend:
		return "spend"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// ParseOutcome returns the outcome named s.
func ParseOutcome(s string) (Outcome, error) {
	for _, o := range []Outcome{Visit, Conversion, Spend} {
		if o.String() == s {
			return o, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown outcome %q (visit, conversion, spend)", ErrInvalidOptions, s)
}

// Of returns the customer's outcome o (0/1 for visit and conversion).
func (o Outcome) Of(c *Customer) float64 {
	switch o {
	case Visit:
		return b2f(c.Visit)
	case Conversion:
		return b2f(c.Conversion)
	}
	return c.Spend
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var hillstromCols = []string{"recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel", "segment", "visit", "conversion", "spend"}

// ReadHillstrom parses hillstrom.csv (CRLF lines, quoted fields with
// commas). Columns are found by name.
func ReadHillstrom(r io.Reader) ([]Customer, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	h, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: hillstrom header: %w", ErrFormat, err)
	}
	cols, err := columnIndex(h, hillstromCols)
	if err != nil {
		return nil, fmt.Errorf("%w: hillstrom: %w", ErrFormat, err)
	}
	var idx [12]int
	copy(idx[:], cols)
	var cs []Customer
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return cs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: hillstrom: %w", ErrFormat, err)
		}
		line, _ := cr.FieldPos(0)
		c, err := parseCustomer(rec, &idx)
		if err != nil {
			return nil, fmt.Errorf("%w: hillstrom line %d: %w", ErrFormat, line, err)
		}
		cs = append(cs, c)
	}
}

func parseCustomer(rec []string, idx *[12]int) (Customer, error) {
	f := func(k int) string { return rec[idx[k]] }
	var errs []error
	atoi := func(k int) int {
		v, err := strconv.Atoi(f(k))
		errs = append(errs, err)
		return v
	}
	flag := func(k int) bool {
		switch f(k) {
		case "0":
			return false
		case "1":
			return true
		}
		errs = append(errs, fmt.Errorf("%s %q is not 0 or 1", hillstromCols[k], f(k)))
		return false
	}
	num := func(k int) float64 {
		v, err := strconv.ParseFloat(f(k), 64)
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0) || v < 0) {
			err = fmt.Errorf("%s %v out of range", hillstromCols[k], v)
		}
		errs = append(errs, err)
		return v
	}
	c := Customer{Recency: atoi(0), History: num(2), Mens: flag(3), Womens: flag(4), ZipCode: f(5), Newbie: flag(6),
		Channel: f(7), Visit: flag(9), Conversion: flag(10), Spend: num(11)}
	seg, _, ok := strings.Cut(f(1), ")")
	s, err := strconv.Atoi(seg)
	if !ok || err != nil || s < 1 || s > 7 {
		errs = append(errs, fmt.Errorf("history_segment %q", f(1)))
	}
	c.HistorySegment = s
	c.Arm = -1
	for a, name := range armNames {
		if f(8) == name {
			c.Arm = Arm(a)
		}
	}
	if c.Arm < 0 {
		errs = append(errs, fmt.Errorf("segment %q is not an arm", f(8)))
	}
	return c, errors.Join(errs...)
}

// LoadHillstrom reads path, or path/hillstrom.csv when path is a
// directory.
func LoadHillstrom(path string) ([]Customer, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path += "/hillstrom.csv"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open Hillstrom data: %w", err)
	}
	defer f.Close()
	cs, err := ReadHillstrom(f)
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %w", path, err)
	}
	return cs, nil
}

// SplitHalves splits 0..n-1 at random into two halves (the first gets
// the extra one when n is odd), reproducibly from seed (PCG(seed, seed)).
// Each half is in increasing order.
func SplitHalves(n int, seed uint64) (a, b []int) {
	in := make([]bool, n)
	for _, i := range rand.New(rand.NewPCG(seed, seed)).Perm(n)[:(n+1)/2] {
		in[i] = true
	}
	for i, isA := range in {
		if isA {
			a = append(a, i)
		} else {
			b = append(b, i)
		}
	}
	return a, b
}

// Policy is a deterministic per-customer policy for the Hillstrom trial.
// Implementations must not retain c.
type Policy interface {
	Arm(c *Customer) Arm
}

// FixedPolicy sends every customer the same arm.
type FixedPolicy Arm

// Arm returns the fixed arm.
func (p FixedPolicy) Arm(*Customer) Arm { return Arm(p) }

// The fixed policies.
const (
	AlwaysMens   = FixedPolicy(MensEmail)
	AlwaysWomens = FixedPolicy(WomensEmail)
	NeverEmail   = FixedPolicy(NoEmail)
)

// HillstromRounds turns the customers at idx into rounds for evaluating p
// on outcome o: the logged action is the randomised arm with its design
// propensity 1/3 (exact), the target puts probability 1 on p's arm, and
// Qhat is m's prediction when m is not nil.
func HillstromRounds(cs []Customer, idx []int, p Policy, o Outcome, m *ArmModel) []Round {
	var uniform, onehot [NumArms][]float64
	u := []float64{TrialPropensity, TrialPropensity, TrialPropensity}
	for a := range onehot {
		onehot[a] = make([]float64, NumArms)
		onehot[a][a] = 1
		uniform[a] = u
	}
	rs := make([]Round, len(idx))
	for j, i := range idx {
		c := &cs[i]
		rs[j] = Round{Logged: int(c.Arm), Propensity: TrialPropensity, Reward: o.Of(c), Target: onehot[p.Arm(c)], Logging: u}
		if m != nil {
			q := m.Predict(c)
			rs[j].Qhat = q[:]
		}
	}
	return rs
}

// EvaluateHillstrom estimates p's value on outcome o from the customers at
// idx: IPS and SNIPS, and with a reward model m (fitted on other
// customers) also DM, DR, SNDR and Switch-DR.
func EvaluateHillstrom(cs []Customer, idx []int, p Policy, o Outcome, m *ArmModel, opt Options) ([]Estimate, error) {
	return EvaluateAll(HillstromRounds(cs, idx, p, o, m), opt)
}

// HillstromFeatures returns the customer's features for ArmModel: an
// intercept, recency/12, history segments 2..7 (one-hot), ln(history),
// mens, womens, zip code Urban and Surburban, newbie, channel Phone and
// Web (one-hot; Rural and Multichannel are the baselines). dst is reused
// if long enough.
func HillstromFeatures(c *Customer, dst []float64) []float64 {
	dst = append(dst[:0], 1, float64(c.Recency)/12)
	for s := 2; s <= 7; s++ {
		dst = append(dst, b2f(c.HistorySegment == s))
	}
	dst = append(dst, math.Log(math.Max(c.History, 1)), b2f(c.Mens), b2f(c.Womens),
		b2f(c.ZipCode == "Urban"), b2f(c.ZipCode == "Surburban"), b2f(c.Newbie),
		b2f(c.Channel == "Phone"), b2f(c.Channel == "Web"))
	return dst
}

// ArmModel predicts an outcome per arm by one ridge regression per arm on
// HillstromFeatures (a linear probability model for visit and
// conversion). As a Policy it sends each customer the arm with the
// highest prediction: the "learned" policy.
type ArmModel struct {
	Outcome Outcome
	Lambda  float64
	Coef    [NumArms][]float64
}

// FitArmModel fits the model for outcome o on the customers at idx, each
// arm on its own customers, with ridge penalty lambda on every
// coefficient but the intercept.
func FitArmModel(cs []Customer, idx []int, o Outcome, lambda float64) (*ArmModel, error) {
	d := len(HillstromFeatures(&Customer{}, nil))
	m := &ArmModel{Outcome: o, Lambda: lambda}
	var x []float64
	for a := range Arm(NumArms) {
		xtx := mat.NewSymDense(d, nil)
		xty := mat.NewVecDense(d, nil)
		var n int
		for _, i := range idx {
			c := &cs[i]
			if c.Arm != a {
				continue
			}
			n++
			x = HillstromFeatures(c, x)
			xtx.SymRankOne(xtx, 1, mat.NewVecDense(d, x))
			xty.AddScaledVec(xty, o.Of(c), mat.NewVecDense(d, x))
		}
		if n < d {
			return nil, fmt.Errorf("%w: %d customers in arm %s for %d features", ErrTooFewRounds, n, a, d)
		}
		for j := 1; j < d; j++ {
			xtx.SetSym(j, j, xtx.At(j, j)+lambda)
		}
		var ch mat.Cholesky
		if !ch.Factorize(xtx) {
			return nil, fmt.Errorf("%w: arm %s: features are collinear", ErrInvalidOptions, a)
		}
		var beta mat.VecDense
		if err := ch.SolveVecTo(&beta, xty); err != nil {
			return nil, fmt.Errorf("arm %s: %w", a, err)
		}
		m.Coef[a] = mat.Col(nil, 0, &beta)
	}
	return m, nil
}

// Predict returns the predicted outcome under each arm.
func (m *ArmModel) Predict(c *Customer) [NumArms]float64 {
	var buf [32]float64
	x := HillstromFeatures(c, buf[:0])
	var q [NumArms]float64
	for a := range q {
		q[a] = dot(m.Coef[a], x)
	}
	return q
}

// Arm returns the arm with the highest predicted outcome (the lowest
// index on ties).
func (m *ArmModel) Arm(c *Customer) Arm { return bestArm(m.Predict(c)) }

// bestArm returns the arm with the highest value, the lowest on ties.
func bestArm(q [NumArms]float64) Arm {
	best := Arm(0)
	for a := Arm(1); a < NumArms; a++ {
		if q[a] > q[best] {
			best = a
		}
	}
	return best
}

// columnIndex returns the position in header of each wanted column
// (header names are trimmed), or an error naming the first missing one.
func columnIndex(header, want []string) ([]int, error) {
	col := make(map[string]int, len(header))
	for j, name := range header {
		col[strings.TrimSpace(name)] = j
	}
	idx := make([]int, len(want))
	for k, name := range want {
		j, ok := col[name]
		if !ok {
			return nil, fmt.Errorf("no %q column", name)
		}
		idx[k] = j
	}
	return idx, nil
}
