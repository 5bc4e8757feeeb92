package decide

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"nextbest/features"
)

// Catalog is the set of actions the service may recommend, loaded once and
// read concurrently afterwards. Build one with ParseCatalog; a Catalog is
// immutable.
type Catalog struct {
	Channels []string  `json:"channels"`
	Actions  []*Action `json:"actions"`
	// Policies are the contact policies across actions (policy.go).
	Policies []*ContactPolicy `json:"contact_policies,omitempty"`
	byID     map[string]int
	// rulesReadCLV: some eligibility rule names profile.clv (the rule
	// environment's CLV figures are worked out only then)
	rulesReadCLV bool
}

// Action is one offer, message or next step.
type Action struct {
	ID          string   `json:"id" yaml:"id"`
	Name        string   `json:"name,omitempty" yaml:"name"`
	Description string   `json:"description,omitempty" yaml:"description"`
	Channels    []string `json:"channels" yaml:"channels"`
	// Value is the business value of a successful outcome (e.g. margin of a
	// conversion). Score = model estimate × Value × Weight.
	Value float64 `json:"value" yaml:"value"`
	// CLVUplift, when set, makes the value of a successful outcome this
	// fraction of the customer's lifetime value (features' profile.clv
	// figures: the uplift in CLV the action brings, e.g. 0.05 for a
	// retention offer worth 5% of what the customer will spend) instead
	// of the fixed Value; Value still applies to a customer without CLV
	// figures (no purchase yet, or no CLV model loaded).
	CLVUplift float64 `json:"clv_uplift,omitempty" yaml:"clv_uplift"`
	// Weight is a business lever (priority, budget pacing); default 1.
	Weight float64 `json:"weight" yaml:"weight"`
	// Purposes are the consent purposes the action needs (features'
	// profile.consent): it is shown only to a customer whose latest
	// consent for each purpose on the decision's channel (else on every
	// channel) is a grant.
	Purposes []string `json:"purposes,omitempty" yaml:"purposes"`
	// Eligible is an expr-lang expression that must be true for the action
	// to be shown; empty means always eligible. See Env for its variables.
	Eligible string `json:"eligible,omitempty" yaml:"eligible"`
	// Limits are frequency caps: at most Max impressions per Window.
	Limits []Limit `json:"limits,omitempty" yaml:"limits"`
	// SuppressAfterConversion hides the action for this long after the
	// customer converted on it; 0 means no suppression.
	SuppressAfterConversion Duration `json:"suppress_after_conversion,omitempty" yaml:"suppress_after_conversion"`
	// SuppressAfterRejects hides the action for For once the customer has
	// declined it Count times within Within (outcomes of a reject type,
	// logs.OutcomeType.Reject): Pega's "after 3 rejects, suppress for 30
	// days". Nil: rejects do not suppress.
	SuppressAfterRejects *RejectRule `json:"suppress_after_rejects,omitempty" yaml:"suppress_after_rejects"`
	// Features are the action's own model features (category, discount...),
	// read by the feature spec's action.* sources.
	Features map[string]any `json:"features,omitempty" yaml:"features"`

	index    int
	rule     *rule
	compiled *features.ActionFeatures
	policies []*ContactPolicy // the contact policies that cover it
}

// value is the value of a successful outcome of a for the customer whose
// inputs in are: CLVUplift × CLV where the action says so and the
// customer has CLV figures (worked out only then, once per decision),
// else Value.
func (a *Action) value(in *features.Inputs) float64 {
	if a.CLVUplift > 0 {
		if figs, ok := in.CLV(); ok {
			return a.CLVUplift * figs.Value
		}
	}
	return a.Value
}

// missingConsent returns the first of the action's purposes that p has
// not granted on channel, with the entry that decides it (ok false in
// c's place: never given).
func (a *Action) missingConsent(p *features.Profile, channel string) (purpose string, c *features.ConsentEntry, missing bool) {
	for _, pur := range a.Purposes {
		e, ok := p.ConsentFor(pur, channel)
		if !ok {
			return pur, nil, true
		}
		if !e.Granted {
			return pur, &e, true
		}
	}
	return "", nil, false
}

// consentReason says why a missing consent dropped an action.
func consentReason(purpose, channel string, c *features.ConsentEntry) string {
	if c == nil {
		return fmt.Sprintf("no consent for purpose %s on channel %s: never given", purpose, channel)
	}
	where := "every channel"
	if c.Channel != "" {
		where = "channel " + c.Channel
	}
	s := fmt.Sprintf("no consent for purpose %s on channel %s: withdrawn for %s on %s via %s", purpose, channel, where, c.At.Format(time.RFC3339), c.Source)
	if c.TextVersion != "" {
		s += " (text " + c.TextVersion + ")"
	}
	return s
}

// RejectRule is an action's reject-based suppression.
type RejectRule struct {
	Count  int      `json:"count" yaml:"count"`
	Within Duration `json:"within" yaml:"within"`
	For    Duration `json:"for" yaml:"for"`
}

// suppressedByRejects reports whether the rule suppresses an action with
// rejections rejects (oldest first) at now, and the rejection that
// started the suppression (the Count-th within the window before it).
func (r *RejectRule) suppressedByRejects(rejects []time.Time, now time.Time) (bool, time.Time) {
	if r == nil {
		return false, time.Time{}
	}
	for i := len(rejects) - 1; i >= r.Count-1; i-- {
		last := rejects[i]
		switch {
		case last.After(now):
			continue // recorded later than this decision's clock
		case now.Sub(last) >= r.For.D():
			return false, time.Time{} // every earlier one is older still
		case last.Sub(rejects[i-r.Count+1]) <= r.Within.D():
			return true, last
		}
	}
	return false, time.Time{}
}

// Index is the action's position in the catalog (its model action index).
func (a *Action) Index() int { return a.index }

// Limit is one frequency cap.
type Limit struct {
	Max    int      `json:"max" yaml:"max"`
	Window Duration `json:"window" yaml:"window"`
}

// Seen counts c's impressions within the limit's window before now:
// those after now minus the window. (c's impressions are sorted.)
func (l Limit) Seen(c *features.Contact, now time.Time) int {
	if c == nil {
		return 0
	}
	from := now.Add(-l.Window.D())
	seen := 0
	for k := len(c.Impressions) - 1; k >= 0 && c.Impressions[k].After(from); k-- {
		seen++
	}
	return seen
}

// Duration is a time.Duration that reads and writes as a string such as
// "90s", "24h" or "7d" (days are 24h).
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ParseDuration parses a Go duration or a whole or fractional number of
// days with the suffix "d".
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(days, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return Duration(f * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return []byte(strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"), nil
	}
	return []byte(td.String()), nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// ParseCatalog parses a YAML catalog, validates every action, compiles its
// eligibility rule and compiles its features against spec
// (features.Spec.CompileAction). spec may be nil where no vector is
// assembled (a catalog read for its ids and rules only): such a catalog
// serves no Engine. Errors name the offending field.
func ParseCatalog(data []byte, spec *features.Spec) (*Catalog, error) {
	var raw struct {
		Version  int              `yaml:"version"`
		Channels []string         `yaml:"channels"`
		Actions  []*Action        `yaml:"actions"`
		Policies []*ContactPolicy `yaml:"contact_policies"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, &CatalogError{Field: "(yaml)", Reason: err.Error()}
	}
	if raw.Version != 1 {
		return nil, &CatalogError{Field: "version", Reason: fmt.Sprintf("must be 1, got %d", raw.Version)}
	}
	if len(raw.Channels) == 0 {
		return nil, &CatalogError{Field: "channels", Reason: "must list at least one channel"}
	}
	for i, ch := range raw.Channels {
		if !idPattern.MatchString(ch) || slices.Index(raw.Channels, ch) != i {
			return nil, &CatalogError{Field: fmt.Sprintf("channels[%d]", i), Reason: fmt.Sprintf("invalid or duplicate channel %q", ch)}
		}
	}
	if len(raw.Actions) == 0 {
		return nil, &CatalogError{Field: "actions", Reason: "must list at least one action"}
	}
	c := &Catalog{Channels: raw.Channels, Actions: raw.Actions, byID: make(map[string]int, len(raw.Actions))}
	for i, a := range raw.Actions {
		f := func(name string) string { return fmt.Sprintf("actions[%d].%s", i, name) }
		if a == nil {
			return nil, &CatalogError{Field: fmt.Sprintf("actions[%d]", i), Reason: "empty action"}
		}
		if !idPattern.MatchString(a.ID) {
			return nil, &CatalogError{Field: f("id"), Reason: fmt.Sprintf("invalid id %q (letters, digits, . _ : -; at most 128)", a.ID)}
		}
		if _, dup := c.byID[a.ID]; dup {
			return nil, &CatalogError{Field: f("id"), Reason: fmt.Sprintf("duplicate id %q", a.ID)}
		}
		c.byID[a.ID] = i
		a.index = i
		if len(a.Channels) == 0 {
			return nil, &CatalogError{Field: f("channels"), Reason: "must list at least one channel"}
		}
		for j, ch := range a.Channels {
			if !slices.Contains(c.Channels, ch) {
				return nil, &CatalogError{Field: f(fmt.Sprintf("channels[%d]", j)), Reason: fmt.Sprintf("unknown channel %q", ch)}
			}
		}
		if !(a.Value >= 0) || math.IsInf(a.Value, 0) {
			return nil, &CatalogError{Field: f("value"), Reason: "must be a finite number >= 0"}
		}
		if !(a.CLVUplift >= 0 && a.CLVUplift <= 10) {
			return nil, &CatalogError{Field: f("clv_uplift"), Reason: "must be a number from 0 to 10 (a fraction of the customer's CLV)"}
		}
		for j, pur := range a.Purposes {
			if spec != nil && !spec.HasPurpose(pur) {
				return nil, &CatalogError{Field: f(fmt.Sprintf("purposes[%d]", j)), Reason: fmt.Sprintf("unknown consent purpose %q (the feature spec's profile.consent.purposes: %v)", pur, spec.Purposes())}
			}
		}
		if a.CLVUplift > 0 && spec != nil && !spec.HasCLV() {
			return nil, &CatalogError{Field: f("clv_uplift"), Reason: "needs the feature spec's profile.clv (the purchase event whose history gives the CLV)"}
		}
		if a.Weight == 0 {
			a.Weight = 1
		}
		if !(a.Weight > 0) || math.IsInf(a.Weight, 0) {
			return nil, &CatalogError{Field: f("weight"), Reason: "must be a finite number > 0"}
		}
		if r := a.SuppressAfterRejects; r != nil && (r.Count < 1 || r.Count > features.MaxRejects || r.Within <= 0 || r.For <= 0) {
			return nil, &CatalogError{Field: f("suppress_after_rejects"), Reason: fmt.Sprintf("count must be 1 to %d, within and for > 0", features.MaxRejects)}
		}
		for j, l := range a.Limits {
			if l.Max < 1 || l.Window <= 0 {
				return nil, &CatalogError{Field: f(fmt.Sprintf("limits[%d]", j)), Reason: "max must be >= 1 and window > 0"}
			}
		}
		if a.Eligible != "" {
			r, err := compileRule(a.Eligible)
			if err != nil {
				return nil, &CatalogError{Field: f("eligible"), Reason: err.Error()}
			}
			a.rule = r
			c.rulesReadCLV = c.rulesReadCLV || strings.Contains(a.Eligible, "clv")
		}
		if spec != nil {
			cf, err := spec.CompileAction(a.ID, a.Features)
			if err != nil {
				return nil, &CatalogError{Field: f("features"), Reason: err.Error()}
			}
			a.compiled = cf
		}
	}
	if err := c.compilePolicies(raw.Policies); err != nil {
		return nil, err
	}
	return c, nil
}

// Lookup returns the action with the given id.
func (c *Catalog) Lookup(id string) (*Action, bool) {
	i, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	return c.Actions[i], true
}

// HasChannel reports whether ch is one of the catalog's channels.
func (c *Catalog) HasChannel(ch string) bool { return slices.Contains(c.Channels, ch) }

// Compiled returns the features of a compiled against the catalog's
// feature spec, nil for a catalog parsed without one.
func (a *Action) Compiled() *features.ActionFeatures { return a.compiled }
