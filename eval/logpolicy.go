package eval

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"nextbest/decide"
	"nextbest/features"
	"nextbest/models"
	"nextbest/training"
)

// LogPolicy is a target policy to evaluate on a log file's decisions
// (LogRounds): a rule, a trained model, or the uniform policy.
type LogPolicy interface {
	// Name describes the policy.
	Name() string
	// Probabilities writes into dst, one per candidate of d (d.IDs), the
	// probability that the policy takes it. It does not retain d.
	Probabilities(dst []float64, d *LoggedDecision) error
}

// LogRounds turns a log file's decisions into off-policy rounds for the
// target policy p: the logged action and its propensity, the reward, and
// p's probabilities over the decision's candidates (with the candidates'
// ids shared across rounds, so that missing support is judged per
// action).
func LogRounds(data *LogData, p LogPolicy) ([]Round, error) {
	index := make(map[string]int, len(data.Actions))
	for i, id := range data.Actions {
		index[id] = i
	}
	rs := make([]Round, len(data.Decisions))
	shared := map[*string][]int{} // the tabular formats share one candidate list
	for i := range data.Decisions {
		d := &data.Decisions[i]
		r := &rs[i]
		r.Logged, r.Propensity, r.Reward = d.Example.Chosen, d.Example.Prob, d.Reward()
		r.Target = make([]float64, len(d.IDs))
		if err := p.Probabilities(r.Target, d); err != nil {
			return nil, err
		}
		acts, ok := shared[&d.IDs[0]]
		if !ok {
			acts = make([]int, len(d.IDs))
			for k, id := range d.IDs {
				acts[k] = index[id]
			}
			shared[&d.IDs[0]] = acts
		}
		r.Actions = acts
	}
	return rs, nil
}

// UniformPolicy takes every candidate with the same probability.
type UniformPolicy struct{}

// Name is "uniform".
func (UniformPolicy) Name() string { return "uniform" }

// Probabilities is 1/n for each of the n candidates.
func (UniformPolicy) Probabilities(dst []float64, d *LoggedDecision) error {
	for i := range dst {
		dst[i] = 1 / float64(len(dst))
	}
	return nil
}

// RulePolicy is a deterministic rule: an expr-lang expression (the
// language of the catalog's eligibility rules) over a decision's
// context that gives the id of the action to take, e.g.
//
//	context.page == "cart" ? "free-shipping" : "new-arrivals"
//
// The context's names are variables (dotted names are members:
// context.page), and actions is the list of the decision's candidate
// ids.
type RulePolicy struct {
	src  string
	prog *vm.Program
	env  map[string]any
}

// NewRulePolicy compiles the rule src for a log whose context names are
// names (LogData.Names). A name the rule reads that is no column of the
// log is a *ColumnError naming it (Role "rule"), so that a typo is not
// read as a missing value; path is the log's, for the message.
func NewRulePolicy(src, path string, names []string) (*RulePolicy, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%w: rule %q: %v", ErrInvalidOptions, src, err)
	}
	v := &ruleNames{}
	ast.Walk(&tree.Node, v)
	for _, p := range v.paths {
		if p == "actions" || slices.Contains(v.declared, p) || known(names, p) || longer(v.paths, p) {
			continue
		}
		return nil, &ColumnError{Path: path, Column: p, Role: "rule", Have: names}
	}
	prog, err := expr.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("%w: rule %q: %v", ErrInvalidOptions, src, err)
	}
	return &RulePolicy{src: src, prog: prog, env: map[string]any{}}, nil
}

// known reports whether p is a name or the namespace of one (context of
// context.page).
func known(names []string, p string) bool {
	for _, n := range names {
		if n == p || strings.HasPrefix(n, p+".") {
			return true
		}
	}
	return false
}

// longer reports whether paths holds a name under p (p.x): the rule
// reads that one, p is only its namespace.
func longer(paths []string, p string) bool {
	for _, q := range paths {
		if strings.HasPrefix(q, p+".") {
			return true
		}
	}
	return false
}

// ruleNames collects the dotted names a rule reads (identifiers and
// chains of members of them) and the names it declares (let).
type ruleNames struct {
	paths, declared []string
}

func (v *ruleNames) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.VariableDeclaratorNode:
		v.declared = append(v.declared, x.Name)
	case *ast.IdentifierNode, *ast.MemberNode:
		if p, ok := pathOf(x); ok && !slices.Contains(v.paths, p) {
			v.paths = append(v.paths, p)
		}
	}
}

// pathOf is the dotted name of an identifier or of a chain of members
// by name (a.b.c); ok is false for anything else (a[i], f().x).
func pathOf(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Value, true
	case *ast.MemberNode:
		s, ok := x.Property.(*ast.StringNode)
		if !ok {
			return "", false
		}
		base, ok := pathOf(x.Node)
		return base + "." + s.Value, ok
	}
	return "", false
}

// Name is "rule: SRC".
func (p *RulePolicy) Name() string { return "rule: " + p.src }

// Probabilities puts probability 1 on the candidate the rule names. A
// rule that gives no string, or an id that is not a candidate of the
// decision, is an error naming the row.
func (p *RulePolicy) Probabilities(dst []float64, d *LoggedDecision) error {
	clear(p.env)
	for name, v := range d.Vars {
		setPath(p.env, name, v)
	}
	p.env["actions"] = d.IDs
	out, err := expr.Run(p.prog, p.env)
	if err != nil {
		return fmt.Errorf("%w: row %d: rule %q: %v", ErrInvalidRound, d.Line, p.src, err)
	}
	id, ok := out.(string)
	if !ok {
		return fmt.Errorf("%w: row %d: rule %q gave %v (%T), not an action id", ErrInvalidRound, d.Line, p.src, out, out)
	}
	i := slices.Index(d.IDs, id)
	if i < 0 {
		return fmt.Errorf("%w: row %d: rule %q chose %q, which is not a candidate (%s)", ErrInvalidRound, d.Line, p.src, id, listNames(d.IDs))
	}
	clear(dst)
	dst[i] = 1
	return nil
}

// setPath sets env[a][b][c] = v for the name "a.b.c", making the maps
// it needs; a name under one that holds a value is left out.
func setPath(env map[string]any, name string, v any) {
	parts := strings.Split(name, ".")
	m := env
	for _, k := range parts[:len(parts)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			if _, taken := m[k]; taken {
				return
			}
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	if _, isMap := m[parts[len(parts)-1]].(map[string]any); !isMap {
		m[parts[len(parts)-1]] = v
	}
}

// ModelPolicy is a trained model artifact served with an explorer, as
// the service would serve it: each candidate's row is built from the
// decision's context through the feature spec (training.SpecBuilder, as
// nextbest train reads the same file), scored by the model, and the
// explorer's first-slot probabilities taken over the candidates with c =
// value × weight from the catalog (1 for an action the catalog lacks).
type ModelPolicy struct {
	sc       models.Scorer
	explorer decide.Explorer
	sb       *training.SpecBuilder
	index    map[string]int
	c        []float64
	x        []float64
	mean     []float64
	std      []float64
	idx      []int
	cs       []float64
}

// NewModelPolicy loads art for the feature spec and catalog it was
// trained with (cat may be nil) over the candidates of data, served with
// explorer (defaults filled in). An artifact of another feature spec is
// refused (models.ErrSpecMismatch).
func NewModelPolicy(art *models.Artifact, spec *features.Spec, cat *decide.Catalog, explorer decide.Explorer, data *LogData) (*ModelPolicy, error) {
	var ids []string
	var c []float64
	if cat != nil {
		for _, a := range cat.Actions {
			ids = append(ids, a.ID)
			c = append(c, a.Value*a.Weight)
		}
	}
	for _, id := range data.Actions {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
			c = append(c, 1)
		}
	}
	sc, err := models.LoadScorer(art, spec.Hash(), ids)
	if err != nil {
		return nil, err
	}
	if sc.Dim() != spec.Dim() {
		return nil, fmt.Errorf("%w: model %s has dimension %d, the feature spec %d", ErrInvalidOptions, sc.Name(), sc.Dim(), spec.Dim())
	}
	p := &ModelPolicy{sc: sc, explorer: explorer, sb: training.NewSpecBuilder(spec, cat, data.Source), index: map[string]int{}, c: c}
	for i, id := range ids {
		p.index[id] = i
	}
	return p, nil
}

// Name is the model's name and the explorer.
func (p *ModelPolicy) Name() string { return p.sc.Name() + ", explorer " + p.explorer.String() }

// Probabilities scores d's candidates and explores their scores.
func (p *ModelPolicy) Probabilities(dst []float64, d *LoggedDecision) error {
	x, ids, err := p.sb.CandidateRows(p.x, &d.Example)
	p.x = x
	if err != nil {
		return fmt.Errorf("%w: row %d: %v", ErrInvalidRound, d.Line, err)
	}
	n := len(ids)
	p.mean, p.std, p.idx, p.cs = grow(p.mean, n), grow(p.std, n), growInt(p.idx, n), grow(p.cs, n)
	for i, id := range ids {
		k, ok := p.index[id]
		if !ok {
			return fmt.Errorf("%w: row %d: candidate %q is unknown to the model's action list", ErrInvalidRound, d.Line, id)
		}
		p.idx[i], p.cs[i] = k, p.c[k]
	}
	p.sc.Predict(p.mean, p.std, p.idx, x)
	p.explorer.FirstSlotProbabilities(dst, p.mean, p.std, p.cs)
	return nil
}

// Mismatch says how the names the log carried differ from the feature
// spec's inputs (a *training.FeatureMismatchError), once every decision
// was scored: inputs the log lacks take the spec's defaults, names the
// spec does not read are ignored. nil when they match.
func (p *ModelPolicy) Mismatch() error {
	err := p.sb.Check()
	var fm *training.FeatureMismatchError
	if errors.As(err, &fm) {
		return fm
	}
	return nil
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

func growInt(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
