package decide

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// Experiment splits customers stickily across arms, each served by its own
// policy: a champion, challengers, a random control. Assignment hashes the
// customer id with the experiment name (SHA-256), so a customer sees the
// same arm on every channel and every day, and two experiments split
// independently.
type Experiment struct {
	Name string `yaml:"name" json:"name"`
	// Description says in plain words what is tested.
	Description string `yaml:"description" json:"description,omitempty"`
	// Start and End bound when the experiment assigns customers; a zero
	// End runs until removed.
	Start time.Time `yaml:"start" json:"start"`
	End   time.Time `yaml:"end" json:"end,omitzero"`
	// Channels limits the experiment to these channels; empty means all.
	Channels []string `yaml:"channels" json:"channels,omitempty"`
	// PrimaryMetric is what decides the experiment: "conversion" (share of
	// decisions with a conversion outcome), "revenue" (sum of revenue
	// outcome rewards per decision) or "reward" (sum of all outcome
	// rewards per decision).
	PrimaryMetric string `yaml:"primary_metric" json:"primary_metric"`
	// Guardrails are further metrics watched for harm (same names).
	Guardrails []string `yaml:"guardrails" json:"guardrails,omitempty"`
	// Control names the arm the others are compared with (default: the
	// first arm).
	Control string `yaml:"control" json:"control"`
	Arms    []Arm  `yaml:"arms" json:"arms"`
	// Holdout makes the experiment the programme's permanent holdout: it
	// is assigned before every other experiment, on every channel it
	// names. Its control arm is the programme: a customer assigned to it
	// goes on to the other experiments, and a decision none of them takes
	// is logged in the control arm. Its other arm is the holdout (policy
	// "none", "fallback" or "random"), which measures the whole
	// programme's lift over time.
	Holdout bool `yaml:"holdout" json:"holdout,omitempty"`
	// Covariate names a numeric profile input of the feature spec (as the
	// journal logs it: "counters.purchases_30d", "attributes.age") whose
	// value at a customer's first decision in the experiment is their
	// pre-period behaviour: the analysis adjusts every comparison for it
	// (CUPED, Deng et al. 2013), which narrows the intervals by the share
	// of the metric's variance the covariate explains. Empty: none.
	Covariate string `yaml:"covariate" json:"covariate,omitempty"`

	cum []float64 // cumulative shares
}

// Arm is one branch of an experiment.
type Arm struct {
	Name string `yaml:"name" json:"name"`
	// Policy says what serves the arm:
	//   "online"      the online model with the service's explorer
	//   "promoted"    whatever the service serves outside experiments
	//   "model:N"     version N of the model registry
	//   "random"      uniform random over the eligible actions (ε = 1)
	//   "fallback"    business value × weight, with the service's ε
	Policy string `yaml:"policy" json:"policy"`
	// Share of the experiment's customers (shares are normalised).
	Share float64 `yaml:"share" json:"share"`
	// Explorer optionally overrides the service's explorer for the arm.
	Explorer *Explorer `yaml:"explorer" json:"explorer,omitempty"`
}

// Metric names of Experiment.PrimaryMetric and Guardrails.
const (
	MetricConversion = "conversion"
	MetricRevenue    = "revenue"
	MetricReward     = "reward"
)

// LoadExperiments reads a YAML list of experiments (`experiments: [...]`).
func LoadExperiments(path string) ([]*Experiment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read experiments %q: %w", path, err)
	}
	return ParseExperiments(data)
}

// ParseExperiments parses and validates experiments; errors name the field.
func ParseExperiments(data []byte) ([]*Experiment, error) {
	var raw struct {
		Experiments []*Experiment `yaml:"experiments"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, &CatalogError{Field: "experiments", Reason: err.Error()}
	}
	names := map[string]bool{}
	for i, e := range raw.Experiments {
		if err := e.validate(fmt.Sprintf("experiments[%d]", i)); err != nil {
			return nil, err
		}
		if names[e.Name] {
			return nil, &CatalogError{Field: fmt.Sprintf("experiments[%d].name", i), Reason: "duplicate name " + e.Name}
		}
		names[e.Name] = true
	}
	return raw.Experiments, nil
}

func (e *Experiment) validate(f string) error {
	bad := func(field, reason string) error { return &CatalogError{Field: f + "." + field, Reason: reason} }
	if e == nil {
		return &CatalogError{Field: f, Reason: "empty experiment"}
	}
	if !idPattern.MatchString(e.Name) {
		return bad("name", fmt.Sprintf("invalid name %q", e.Name))
	}
	if e.Start.IsZero() {
		return bad("start", "required (RFC 3339)")
	}
	if !e.End.IsZero() && !e.End.After(e.Start) {
		return bad("end", "must be after start")
	}
	switch e.PrimaryMetric {
	case "":
		e.PrimaryMetric = MetricConversion
	case MetricConversion, MetricRevenue, MetricReward:
	default:
		return bad("primary_metric", "must be conversion, revenue or reward")
	}
	for i, g := range e.Guardrails {
		if g != MetricConversion && g != MetricRevenue && g != MetricReward {
			return bad(fmt.Sprintf("guardrails[%d]", i), "must be conversion, revenue or reward")
		}
	}
	if len(e.Arms) < 2 {
		return bad("arms", "needs at least two arms")
	}
	var total float64
	seen := map[string]bool{}
	for i, a := range e.Arms {
		af := fmt.Sprintf("arms[%d]", i)
		if !idPattern.MatchString(a.Name) || seen[a.Name] {
			return bad(af+".name", fmt.Sprintf("invalid or duplicate arm name %q", a.Name))
		}
		seen[a.Name] = true
		if !(a.Share > 0) || math.IsInf(a.Share, 0) {
			return bad(af+".share", "must be a number > 0")
		}
		if err := checkArmPolicy(a.Policy); err != nil {
			return bad(af+".policy", err.Error())
		}
		if a.Explorer != nil {
			if err := a.Explorer.setDefaults(); err != nil {
				return bad(af+".explorer", err.Error())
			}
		}
		total += a.Share
	}
	if e.Control == "" {
		e.Control = e.Arms[0].Name
	} else if !seen[e.Control] {
		return bad("control", fmt.Sprintf("no arm named %q", e.Control))
	}
	if e.Holdout {
		if len(e.Arms) != 2 {
			return bad("arms", "a holdout has two arms: the programme (the control) and the holdout")
		}
		for i, a := range e.Arms {
			if a.Name == e.Control {
				continue
			}
			if a.Policy != "none" && a.Policy != "fallback" && a.Policy != "random" {
				return bad(fmt.Sprintf("arms[%d].policy", i), "a holdout arm serves none, fallback or random")
			}
		}
	}
	e.cum = make([]float64, len(e.Arms))
	var c float64
	for i, a := range e.Arms {
		c += a.Share / total
		e.cum[i] = c
	}
	e.cum[len(e.cum)-1] = 1
	return nil
}

func checkArmPolicy(p string) error {
	switch p {
	case "online", "promoted", "random", "fallback", "none":
		return nil
	}
	var v int
	if n, err := fmt.Sscanf(p, "model:%d", &v); err == nil && n == 1 && v > 0 && p == fmt.Sprintf("model:%d", v) {
		return nil
	}
	return fmt.Errorf("unknown policy %q (online, promoted, random, fallback, none or model:N)", p)
}

// ArmModelVersion returns N for a "model:N" arm policy, else 0.
func ArmModelVersion(policy string) int {
	var v int
	if n, err := fmt.Sscanf(policy, "model:%d", &v); err == nil && n == 1 {
		return v
	}
	return 0
}

// Active reports whether e assigns customers on channel at now.
func (e *Experiment) Active(channel string, now time.Time) bool {
	if now.Before(e.Start) || (!e.End.IsZero() && !now.Before(e.End)) {
		return false
	}
	return len(e.Channels) == 0 || slices.Contains(e.Channels, channel)
}

// Assign returns the index of customerID's arm: the customer's hash point
// in [0,1) falls in the arm's share of the unit interval.
func (e *Experiment) Assign(customerID string) int {
	u := HashUnit(e.Name, customerID)
	for i, c := range e.cum {
		if u < c {
			return i
		}
	}
	return len(e.cum) - 1
}

// HashUnit maps (experiment, unit) to a point in [0,1) that is uniform
// and independent across experiments: the first 53 bits of
// SHA-256(experiment "\x00" unit).
func HashUnit(experiment, unit string) float64 {
	h := sha256.New()
	h.Write([]byte(experiment))
	h.Write([]byte{0})
	h.Write([]byte(unit))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}
