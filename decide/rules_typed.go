package decide

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// A rule's typed form: the checked (and optimized) expr-lang tree of the
// rule compiled to Go closures over *Env that pass values as rval, never
// as interfaces. The expr VM boxes every value it loads (a profile field,
// a map entry) into an interface, one allocation each; the typed form
// allocates nothing.
//
// The typed form is an accelerator, not a second language: it covers the
// shapes rules are written in (fields and map entries of the Env,
// literals, comparisons, in, ??, and/or/not, ?:, + - * /) and answers only
// when it is sure to agree with the VM. Anything else — a node it does not
// know, compiled at load, or a value whose type the VM would reject or
// treat specially, met at run time — makes it decline, and the VM
// evaluates the rule, with its own result and its own error message.
// TestTypedRulesAgreeWithVM holds the two to the same answers.

// rkind is the type of an rval.
type rkind uint8

const (
	rNil rkind = iota
	rBool
	rInt
	rFloat
	rString
)

// rval is a rule value: nil, a bool, an int, a float64 or a string.
type rval struct {
	k rkind
	b bool
	i int
	f float64
	s string
}

// typedFn evaluates (part of) a rule; ok false means "ask the VM".
type typedFn func(env *Env) (v rval, ok bool)

func (v rval) num() (float64, bool) {
	switch v.k {
	case rInt:
		return float64(v.i), true
	case rFloat:
		return v.f, true
	}
	return 0, false
}

// fromAny converts a map entry of the Env. Only the types whose VM
// semantics rval mirrors are accepted: JSON's float64, string, bool and
// null, and Go's int.
func fromAny(x any) (rval, bool) {
	switch x := x.(type) {
	case nil:
		return rval{}, true
	case bool:
		return rval{k: rBool, b: x}, true
	case int:
		return rval{k: rInt, i: x}, true
	case float64:
		return rval{k: rFloat, f: x}, true
	case string:
		return rval{k: rString, s: x}, true
	}
	return rval{}, false
}

// compileTyped returns the typed form of a rule's checked tree, or nil
// when the tree has a node the typed form does not cover.
func compileTyped(node ast.Node) typedFn {
	f := typedNode(node)
	if f == nil {
		return nil
	}
	return func(env *Env) (rval, bool) {
		v, ok := f(env)
		// the rule must answer a bool; anything else is the VM's error
		return v, ok && v.k == rBool
	}
}

// kindOf is the kind of n's checked type; Interface when it has none.
func kindOf(n ast.Node) reflect.Kind {
	if t := n.Type(); t != nil {
		return t.Kind()
	}
	return reflect.Interface
}

func constFn(v rval) typedFn { return func(*Env) (rval, bool) { return v, true } }

// literal returns the value of a literal node (a constant the optimizer
// folded included), as the VM loads it.
func literal(node ast.Node) (rval, bool) {
	switch n := node.(type) {
	case *ast.NilNode:
		return rval{}, true
	case *ast.BoolNode:
		return rval{k: rBool, b: n.Value}, true
	case *ast.IntegerNode:
		// the checker may have typed the literal as the float it is
		// compared with, and the VM then loads it as one
		switch kindOf(n) {
		case reflect.Int, reflect.Interface:
			return rval{k: rInt, i: n.Value}, true
		case reflect.Float64:
			return rval{k: rFloat, f: float64(n.Value)}, true
		}
	case *ast.FloatNode:
		switch kindOf(n) {
		case reflect.Float64, reflect.Interface:
			return rval{k: rFloat, f: n.Value}, true
		}
	case *ast.StringNode:
		return rval{k: rString, s: n.Value}, true
	case *ast.ConstantNode:
		return fromAny(n.Value)
	}
	return rval{}, false
}

func typedNode(node ast.Node) typedFn {
	if v, ok := literal(node); ok {
		return constFn(v)
	}
	switch n := node.(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case "channel":
			return func(env *Env) (rval, bool) { return rval{k: rString, s: env.Channel}, true }
		case "hour":
			return func(env *Env) (rval, bool) { return rval{k: rInt, i: env.Hour}, true }
		case "weekday":
			return func(env *Env) (rval, bool) { return rval{k: rInt, i: env.Weekday}, true }
		}
		return nil
	case *ast.MemberNode:
		return typedMember(n)
	case *ast.UnaryNode:
		return typedUnary(n)
	case *ast.BinaryNode:
		return typedBinary(n)
	case *ast.ConditionalNode:
		cond, a, b := typedNode(n.Cond), typedNode(n.Exp1), typedNode(n.Exp2)
		if cond == nil || a == nil || b == nil {
			return nil
		}
		return func(env *Env) (rval, bool) {
			c, ok := cond(env)
			if !ok || c.k != rBool {
				return rval{}, false
			}
			if c.b {
				return a(env)
			}
			return b(env)
		}
	}
	return nil
}

// memberPath returns the identifier and the constant property names of a
// chain of plain member accesses (profile.counters.visits: "profile",
// ["counters", "visits"]).
func memberPath(n *ast.MemberNode) (string, []string, bool) {
	if n.Optional || n.Method {
		return "", nil, false
	}
	prop, ok := n.Property.(*ast.StringNode)
	if !ok {
		return "", nil, false
	}
	switch base := n.Node.(type) {
	case *ast.IdentifierNode:
		return base.Value, []string{prop.Value}, true
	case *ast.MemberNode:
		id, path, ok := memberPath(base)
		return id, append(path, prop.Value), ok
	}
	return "", nil, false
}

// typedMember reads a field of the Env, or an entry of one of its maps.
// A missing entry reads as the VM reads it: the zero value of the map's
// element type (nil for context and attributes, 0 for counters and
// recency, false for consents).
func typedMember(n *ast.MemberNode) typedFn {
	id, path, ok := memberPath(n)
	if !ok {
		return nil
	}
	switch {
	case id == "context" && len(path) == 1:
		key := path[0]
		return func(env *Env) (rval, bool) { return fromAny(env.Context[key]) }
	case id != "profile":
		return nil
	case len(path) == 1:
		switch path[0] {
		case "id":
			return func(env *Env) (rval, bool) { return rval{k: rString, s: env.Profile.ID}, true }
		case "known":
			return func(env *Env) (rval, bool) { return rval{k: rBool, b: env.Profile.Known}, true }
		case "stage":
			return func(env *Env) (rval, bool) { return rval{k: rString, s: env.Profile.Stage}, true }
		case "last_channel":
			return func(env *Env) (rval, bool) { return rval{k: rString, s: env.Profile.LastChannel}, true }
		case "tenure_days":
			return func(env *Env) (rval, bool) { return rval{k: rFloat, f: env.Profile.TenureDays}, true }
		}
	case len(path) == 2:
		key := path[1]
		switch path[0] {
		case "attributes":
			return func(env *Env) (rval, bool) { return fromAny(env.Profile.Attributes[key]) }
		case "counters":
			return func(env *Env) (rval, bool) { return rval{k: rFloat, f: env.Profile.Counters[key]}, true }
		case "recency":
			return func(env *Env) (rval, bool) { return rval{k: rFloat, f: env.Profile.Recency[key]}, true }
		case "consents":
			return func(env *Env) (rval, bool) { return rval{k: rBool, b: env.Profile.Consents[key]}, true }
		case "clv":
			switch key {
			case "known":
				return func(env *Env) (rval, bool) { return rval{k: rBool, b: env.Profile.CLV.Known}, true }
			case "value":
				return func(env *Env) (rval, bool) { return rval{k: rFloat, f: env.Profile.CLV.Value}, true }
			case "p_alive":
				return func(env *Env) (rval, bool) { return rval{k: rFloat, f: env.Profile.CLV.PAlive}, true }
			case "expected_purchases":
				return func(env *Env) (rval, bool) { return rval{k: rFloat, f: env.Profile.CLV.ExpectedPurchases}, true }
			case "repeat_purchases":
				return func(env *Env) (rval, bool) { return rval{k: rFloat, f: env.Profile.CLV.RepeatPurchases}, true }
			}
		}
	}
	return nil
}

func typedUnary(n *ast.UnaryNode) typedFn {
	x := typedNode(n.Node)
	if x == nil {
		return nil
	}
	switch n.Operator {
	case "!", "not":
		return func(env *Env) (rval, bool) {
			v, ok := x(env)
			if !ok || v.k != rBool {
				return rval{}, false
			}
			return rval{k: rBool, b: !v.b}, true
		}
	case "-":
		return func(env *Env) (rval, bool) {
			v, ok := x(env)
			switch {
			case !ok:
				return rval{}, false
			case v.k == rInt:
				return rval{k: rInt, i: -v.i}, true
			case v.k == rFloat:
				return rval{k: rFloat, f: -v.f}, true
			}
			return rval{}, false
		}
	}
	return nil
}

func typedBinary(n *ast.BinaryNode) typedFn {
	if n.Operator == "in" {
		return typedIn(n)
	}
	l, r := typedNode(n.Left), typedNode(n.Right)
	if l == nil || r == nil {
		return nil
	}
	switch n.Operator {
	case "&&", "and", "||", "or":
		// the VM jumps on the left operand, which must be a bool, and
		// answers the right one as it is
		or := n.Operator == "||" || n.Operator == "or"
		return func(env *Env) (rval, bool) {
			a, ok := l(env)
			if !ok || a.k != rBool {
				return rval{}, false
			}
			if a.b == or {
				return a, true
			}
			return r(env)
		}
	case "??":
		return func(env *Env) (rval, bool) {
			a, ok := l(env)
			if !ok || a.k != rNil {
				return a, ok
			}
			return r(env)
		}
	case "==", "!=":
		ne := n.Operator == "!="
		if b, ok := literal(n.Right); ok {
			return func(env *Env) (rval, bool) {
				a, ok := l(env)
				return rval{k: rBool, b: equal(a, b) != ne}, ok
			}
		}
		return func(env *Env) (rval, bool) {
			a, ok := l(env)
			if !ok {
				return rval{}, false
			}
			b, ok := r(env)
			return rval{k: rBool, b: equal(a, b) != ne}, ok
		}
	case "<", "<=", ">", ">=":
		op := cmpOps[n.Operator]
		if b, ok := literal(n.Right); ok {
			return func(env *Env) (rval, bool) {
				a, ok := l(env)
				if !ok {
					return rval{}, false
				}
				c, ok := compare(op, a, b)
				return rval{k: rBool, b: c}, ok
			}
		}
		return func(env *Env) (rval, bool) {
			a, ok := l(env)
			if !ok {
				return rval{}, false
			}
			b, ok := r(env)
			if !ok {
				return rval{}, false
			}
			c, ok := compare(op, a, b)
			return rval{k: rBool, b: c}, ok
		}
	case "+", "-", "*", "/":
		op := n.Operator
		return func(env *Env) (rval, bool) {
			a, ok := l(env)
			if !ok {
				return rval{}, false
			}
			b, ok := r(env)
			if !ok {
				return rval{}, false
			}
			return arith(op, a, b)
		}
	}
	return nil
}

// equal is the VM's ==: numbers compare by value whatever their type,
// nil equals nil, and values of different types are not equal.
func equal(a, b rval) bool {
	if a.k == rInt && b.k == rInt {
		return a.i == b.i
	}
	if x, ok := a.num(); ok {
		y, ok := b.num()
		return ok && x == y
	}
	if a.k != b.k {
		return false
	}
	switch a.k {
	case rBool:
		return a.b == b.b
	case rString:
		return a.s == b.s
	}
	return true // nil == nil
}

// cmpOp is an ordering operator.
type cmpOp uint8

const (
	opLess cmpOp = iota
	opLessEq
	opMore
	opMoreEq
)

var cmpOps = map[string]cmpOp{"<": opLess, "<=": opLessEq, ">": opMore, ">=": opMoreEq}

// compare is the VM's ordering of two numbers or two strings; anything
// else is the VM's error (ok false).
func compare(op cmpOp, a, b rval) (res, ok bool) {
	var c int
	switch {
	case a.k == rInt && b.k == rInt:
		c = cmp3(a.i, b.i)
	case a.k == rString && b.k == rString:
		c = cmp3(a.s, b.s)
	default:
		x, okx := a.num()
		y, oky := b.num()
		if !okx || !oky {
			return false, false
		}
		// not cmp3: a NaN is neither below, equal to nor above anything
		switch op {
		case opLess:
			return x < y, true
		case opLessEq:
			return x <= y, true
		case opMore:
			return x > y, true
		}
		return x >= y, true
	}
	switch op {
	case opLess:
		return c < 0, true
	case opLessEq:
		return c <= 0, true
	case opMore:
		return c > 0, true
	}
	return c >= 0, true
}

func cmp3[T int | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// arith is the VM's + - * / on numbers: int with int stays int (but /
// is always float64), any float makes a float64. Strings (+ concatenates)
// are left to the VM.
func arith(op string, a, b rval) (rval, bool) {
	if a.k == rInt && b.k == rInt && op != "/" {
		switch op {
		case "+":
			return rval{k: rInt, i: a.i + b.i}, true
		case "-":
			return rval{k: rInt, i: a.i - b.i}, true
		}
		return rval{k: rInt, i: a.i * b.i}, true
	}
	x, okx := a.num()
	y, oky := b.num()
	if !okx || !oky {
		return rval{}, false
	}
	switch op {
	case "+":
		return rval{k: rFloat, f: x + y}, true
	case "-":
		return rval{k: rFloat, f: x - y}, true
	case "*":
		return rval{k: rFloat, f: x * y}, true
	}
	return rval{k: rFloat, f: x / y}, true
}

// typedIn is x in [...]: a literal list (which the optimizer turns into a
// constant set of strings or ints) or a list of expressions compared with
// ==.
func typedIn(n *ast.BinaryNode) typedFn {
	x := typedNode(n.Left)
	if x == nil {
		return nil
	}
	switch right := n.Right.(type) {
	case *ast.ConstantNode:
		switch set := right.Value.(type) {
		case map[string]struct{}:
			return func(env *Env) (rval, bool) {
				v, ok := x(env)
				// the VM looks nil up as the key type's zero value, and
				// fails on a key of another type
				if !ok || (v.k != rString && v.k != rNil) {
					return rval{}, false
				}
				_, in := set[v.s]
				return rval{k: rBool, b: in}, true
			}
		case map[int]struct{}:
			return func(env *Env) (rval, bool) {
				v, ok := x(env)
				if !ok || (v.k != rInt && v.k != rNil) {
					return rval{}, false
				}
				_, in := set[v.i]
				return rval{k: rBool, b: in}, true
			}
		}
	case *ast.ArrayNode:
		elems := make([]typedFn, len(right.Nodes))
		for i, e := range right.Nodes {
			if elems[i] = typedNode(e); elems[i] == nil {
				return nil
			}
		}
		return func(env *Env) (rval, bool) {
			v, ok := x(env)
			if !ok {
				return rval{}, false
			}
			// the VM builds the whole list before it looks
			in := false
			for _, e := range elems {
				w, ok := e(env)
				if !ok {
					return rval{}, false
				}
				in = in || equal(w, v)
			}
			return rval{k: rBool, b: in}, true
		}
	}
	return nil
}
