package decide

import (
	"fmt"
	"slices"
	"time"

	"nextbest/features"
)

// ContactPolicy limits the contacts a customer gets across actions: at
// most Max impressions of the actions named (all of the catalog's when
// Actions is empty: "at most 5 contacts a week, whatever the offer") in
// any Window. The decision's contact step drops an action whose policy
// is full, naming the policy; within one multi-slot decision an action
// that would overfill a policy with the slots already drawn is not drawn
// for the later slots (a rule on the earlier slots, so each slot's
// propensity stays its exact conditional probability). The impressions
// are the profile's contact history, with the contact ledger's
// reservations (serve), so a policy holds under concurrent decisions and
// across instances, as an action's own Limits do.
type ContactPolicy struct {
	Name    string   `json:"name" yaml:"name"`
	Actions []string `json:"actions,omitempty" yaml:"actions"`
	Max     int      `json:"max" yaml:"max"`
	Window  Duration `json:"window" yaml:"window"`

	members []int // catalog indices of the actions it covers
	index   int   // its position in Catalog.Policies
}

// compilePolicies validates the catalog's policies and records each
// action's.
func (c *Catalog) compilePolicies(ps []*ContactPolicy) error {
	names := map[string]bool{}
	for i, p := range ps {
		f := func(name string) string { return fmt.Sprintf("contact_policies[%d].%s", i, name) }
		switch {
		case p == nil:
			return &CatalogError{Field: fmt.Sprintf("contact_policies[%d]", i), Reason: "empty policy"}
		case !idPattern.MatchString(p.Name) || names[p.Name]:
			return &CatalogError{Field: f("name"), Reason: fmt.Sprintf("invalid or duplicate policy name %q", p.Name)}
		case p.Max < 1 || p.Window <= 0:
			return &CatalogError{Field: f("max"), Reason: "max must be >= 1 and window > 0"}
		}
		names[p.Name] = true
		p.index = i
		if len(p.Actions) == 0 {
			for k := range c.Actions {
				p.members = append(p.members, k)
			}
		}
		for j, id := range p.Actions {
			k, ok := c.byID[id]
			if !ok || slices.Contains(p.members, k) {
				return &CatalogError{Field: f(fmt.Sprintf("actions[%d]", j)), Reason: fmt.Sprintf("unknown or repeated action %q", id)}
			}
			p.members = append(p.members, k)
		}
		for _, k := range p.members {
			c.Actions[k].policies = append(c.Actions[k].policies, p)
		}
	}
	c.Policies = ps
	return nil
}

// seen counts the impressions of the policy's actions in p's contact
// history within its window before now.
func (cp *ContactPolicy) seen(c *Catalog, p *features.Profile, now time.Time) int {
	l := Limit{Max: cp.Max, Window: cp.Window}
	n := 0
	for _, k := range cp.members {
		n += l.Seen(p.Contacts[c.Actions[k].ID], now)
	}
	return n
}

// Capped reports whether the action's impressions count against a limit
// (its own Limits, or a contact policy): the contact ledger reserves
// them until they reach the profile.
func (a *Action) Capped() bool { return len(a.Limits) > 0 || len(a.policies) > 0 }

// Lookback is how far back the action's contact checks look: its longest
// Limit or policy window (0 without any), what the profile must keep of
// its impressions.
func (a *Action) Lookback() time.Duration {
	var w time.Duration
	for _, l := range a.Limits {
		w = max(w, l.Window.D())
	}
	for _, p := range a.policies {
		w = max(w, p.Window.D())
	}
	return w
}
