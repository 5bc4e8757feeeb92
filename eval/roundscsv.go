package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The rounds CSV format (ReadRounds, WriteRounds, "nextbest eval file"):
// one header line naming the columns, in any order, then one round per
// line. Lines starting with '#' are comments.
//
//	logged        required  index of the logged action, 0..N-1
//	propensity    required  logging probability of the logged action, (0, 1]
//	reward        required  observed reward
//	position      optional  slot, 0-based (default 0)
//	target_0 ..   required  target policy's probability of each action;
//	target_{N-1}            the number of target columns defines N
//	qhat_0 ..     optional  reward model estimate per action (all N or none)
//	logging_0 ..  optional  logging policy's full distribution (all N or none)
//
// Every round has the same N; give an ineligible action target 0.

// MaxRoundActions caps N in ReadRounds, so that a malformed header cannot
// make the reader allocate without bound.
const MaxRoundActions = 1 << 16

type roundCols struct {
	logged, prop, reward, pos int
	target, qhat, logging     []int
}

func parseRoundHeader(h []string) (*roundCols, error) {
	c := &roundCols{logged: -1, prop: -1, reward: -1, pos: -1}
	vec := map[string]map[int]int{"target": {}, "qhat": {}, "logging": {}}
	for j, name := range h {
		name = strings.TrimSpace(name)
		switch name {
		case "logged":
			c.logged = dup(c.logged, j)
		case "propensity":
			c.prop = dup(c.prop, j)
		case "reward":
			c.reward = dup(c.reward, j)
		case "position":
			c.pos = dup(c.pos, j)
		default:
			pre, idx, ok := strings.Cut(name, "_")
			m := vec[pre]
			k, err := strconv.Atoi(idx)
			if !ok || m == nil || err != nil || k < 0 || k >= MaxRoundActions || idx != strconv.Itoa(k) {
				return nil, fmt.Errorf("%w: header: unknown column %q", ErrFormat, name)
			}
			if _, seen := m[k]; seen {
				return nil, fmt.Errorf("%w: header: column %q twice", ErrFormat, name)
			}
			m[k] = j
		}
	}
	if c.logged == -2 || c.prop == -2 || c.reward == -2 || c.pos == -2 {
		return nil, fmt.Errorf("%w: header: a column appears twice", ErrFormat)
	}
	if c.logged < 0 || c.prop < 0 || c.reward < 0 {
		return nil, fmt.Errorf("%w: header: need columns logged, propensity, reward", ErrFormat)
	}
	n := len(vec["target"])
	if n == 0 {
		return nil, fmt.Errorf("%w: header: no target_0.. columns", ErrFormat)
	}
	for _, pre := range []string{"target", "qhat", "logging"} {
		m := vec[pre]
		if len(m) == 0 {
			continue
		}
		if len(m) != n {
			return nil, fmt.Errorf("%w: header: %d %s columns for %d actions", ErrFormat, len(m), pre, n)
		}
		cols := make([]int, n)
		for k := range n {
			j, ok := m[k]
			if !ok {
				return nil, fmt.Errorf("%w: header: %s_%d missing", ErrFormat, pre, k)
			}
			cols[k] = j
		}
		switch pre {
		case "target":
			c.target = cols
		case "qhat":
			c.qhat = cols
		case "logging":
			c.logging = cols
		}
	}
	return c, nil
}

func dup(old, j int) int {
	if old != -1 {
		return -2
	}
	return j
}

// ReadRounds decodes rounds from the CSV format above and validates each
// (Round.Validate). Errors wrap ErrFormat, and for an invalid round also
// ErrInvalidRound, with the line number.
func ReadRounds(r io.Reader) ([]Round, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.ReuseRecord = true
	h, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty input, no header", ErrFormat)
		}
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	c, err := parseRoundHeader(h)
	if err != nil {
		return nil, err
	}
	var rs []Round
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		line, _ := cr.FieldPos(0)
		rd, err := c.round(rec)
		if err == nil {
			err = rd.Validate(len(rs))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrFormat, line, err)
		}
		rs = append(rs, rd)
	}
}

func (c *roundCols) round(rec []string) (Round, error) {
	var rd Round
	var err error
	num := func(j int) float64 {
		if err != nil {
			return 0
		}
		var v float64
		v, err = strconv.ParseFloat(strings.TrimSpace(rec[j]), 64)
		return v
	}
	integer := func(j int) int {
		if err != nil {
			return 0
		}
		var v int
		v, err = strconv.Atoi(strings.TrimSpace(rec[j]))
		return v
	}
	vec := func(cols []int) []float64 {
		if cols == nil {
			return nil
		}
		v := make([]float64, len(cols))
		for k, j := range cols {
			v[k] = num(j)
		}
		return v
	}
	rd.Logged = integer(c.logged)
	rd.Propensity = num(c.prop)
	rd.Reward = num(c.reward)
	if c.pos >= 0 {
		rd.Position = integer(c.pos)
	}
	rd.Target = vec(c.target)
	rd.Qhat = vec(c.qhat)
	rd.Logging = vec(c.logging)
	return rd, err
}

// WriteRounds encodes rs in the CSV format above, with a position column
// and the qhat and logging columns when every round has them. All rounds
// must have the same number of actions. Floats are written in the
// shortest form that reads back exactly.
func WriteRounds(w io.Writer, rs []Round) error {
	if len(rs) == 0 {
		return fmt.Errorf("%w: no rounds to write", ErrInvalidRound)
	}
	n := len(rs[0].Target)
	qhat, logging := true, true
	for i := range rs {
		if len(rs[i].Target) != n {
			return &RoundError{Index: i, Field: "target", Reason: fmt.Sprintf("%d actions, round 0 has %d", len(rs[i].Target), n)}
		}
		qhat = qhat && len(rs[i].Qhat) == n
		logging = logging && len(rs[i].Logging) == n
	}
	h := []string{"logged", "propensity", "reward", "position"}
	add := func(pre string) {
		for k := range n {
			h = append(h, pre+"_"+strconv.Itoa(k))
		}
	}
	add("target")
	if qhat {
		add("qhat")
	}
	if logging {
		add("logging")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(h); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	rec := make([]string, 0, len(h))
	for i := range rs {
		r := &rs[i]
		rec = append(rec[:0], strconv.Itoa(r.Logged), f(r.Propensity), f(r.Reward), strconv.Itoa(r.Position))
		for _, v := range r.Target {
			rec = append(rec, f(v))
		}
		if qhat {
			for _, v := range r.Qhat {
				rec = append(rec, f(v))
			}
		}
		if logging {
			for _, v := range r.Logging {
				rec = append(rec, f(v))
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
