package driver

import (
	"math"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"nextbest/features"
)

// Summary is the state of a run: totals, rates, rewards and decide
// latency. Run returns the final one; Snapshot gives one at any time.
type Summary struct {
	Target  string  `json:"target"`
	Seconds float64 `json:"seconds"`
	// Decisions counts answered decide calls (status 200), Fallback those
	// served by the fallback ranking, Empty those with no eligible action.
	Decisions int64 `json:"decisions"`
	Fallback  int64 `json:"fallback"`
	Empty     int64 `json:"empty"`
	// Events and Outcomes count accepted (202) events and outcomes.
	Events      int64 `json:"events"`
	Outcomes    int64 `json:"outcomes"`
	Conversions int64 `json:"conversions"`
	// Requests counts every request sent, Errors those that failed
	// (transport error or unexpected status), by ErrorKinds.
	Requests   int64            `json:"requests"`
	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	// Policies counts decisions by the policy that answered them.
	Policies        map[string]int64 `json:"policies"`
	DecisionsPerSec float64          `json:"decisions_per_sec"`
	RequestsPerSec  float64          `json:"requests_per_sec"`
	// Reward is the value of the conversions drawn; ExpectedReward the
	// true expected reward of the first slot of every decision; Oracle the
	// best eligible action's on the same visits; OracleShare their ratio.
	Reward         float64 `json:"reward"`
	ExpectedReward float64 `json:"expected_reward"`
	OracleReward   float64 `json:"oracle_reward"`
	OracleShare    float64 `json:"oracle_share"`
	// Latency of decide calls that answered 200, in milliseconds.
	Latency Latency `json:"decide_latency_ms"`
}

// Latency holds latency percentiles in milliseconds (about 2% precision).
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// Snapshot returns the run's summary so far.
func (d *Driver) Snapshot() Summary {
	s := Summary{Target: d.base, ErrorKinds: map[string]int64{}, Policies: map[string]int64{}}
	if st := d.started.Load(); st != 0 {
		end := time.Now().UnixNano()
		if sp := d.stopped.Load(); sp != 0 {
			end = sp
		}
		s.Seconds = float64(end-st) / 1e9
	}
	for _, w := range d.workers {
		c := &w.c
		s.Decisions += c.decisions.Load()
		s.Fallback += c.fallback.Load()
		s.Empty += c.empty.Load()
		s.Events += c.events.Load()
		s.Outcomes += c.outcomes.Load()
		s.Conversions += c.conversions.Load()
		s.Requests += c.requests.Load()
		s.Errors += c.errors.Load()
		s.Reward += c.realized.load()
		s.ExpectedReward += c.expected.load()
		s.OracleReward += c.oracle.load()
		c.mu.Lock()
		for k, n := range c.errKinds {
			s.ErrorKinds[k] += n
		}
		for k, n := range c.policies {
			s.Policies[k] += n
		}
		c.mu.Unlock()
	}
	if s.Seconds > 0 {
		s.DecisionsPerSec = float64(s.Decisions) / s.Seconds
		s.RequestsPerSec = float64(s.Requests) / s.Seconds
	}
	if s.OracleReward > 0 {
		s.OracleShare = s.ExpectedReward / s.OracleReward
	}
	s.Latency = d.lat.summary()
	return s
}

// histogram is a log-bucketed latency histogram shared by the workers:
// bucket i holds latencies in [base·g^i, base·g^(i+1)).
type histogram struct {
	b     [histBuckets]atomic.Int64
	sum   atomic.Int64 // ns
	max   atomic.Int64 // ns
	count atomic.Int64
}

const (
	histBuckets = 800
	histBase    = 1e3 // 1µs, in ns
	histGrowth  = 1.04
)

var histLogG = math.Log(histGrowth)

func (h *histogram) observe(d time.Duration) {
	ns := int64(d)
	i := 0
	if float64(ns) > histBase {
		i = min(int(math.Log(float64(ns)/histBase)/histLogG), histBuckets-1)
	}
	h.b[i].Add(1)
	h.sum.Add(ns)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if ns <= m || h.max.CompareAndSwap(m, ns) {
			break
		}
	}
}

func (h *histogram) summary() Latency {
	var counts [histBuckets]int64
	var n int64
	for i := range counts {
		counts[i] = h.b[i].Load()
		n += counts[i]
	}
	l := Latency{Count: n}
	if n == 0 {
		return l
	}
	l.Mean = float64(h.sum.Load()) / float64(h.count.Load()) / 1e6
	l.Max = float64(h.max.Load()) / 1e6
	q := func(p float64) float64 {
		rank := int64(math.Ceil(p * float64(n)))
		var acc int64
		for i, c := range counts {
			acc += c
			if acc >= rank {
				// the bucket's geometric middle
				return histBase * math.Pow(histGrowth, float64(i)+0.5) / 1e6
			}
		}
		return l.Max
	}
	l.P50, l.P90, l.P99, l.P999 = q(0.5), q(0.9), q(0.99), q(0.999)
	if l.P999 > l.Max {
		l.P999 = l.Max
	}
	if l.P99 > l.Max {
		l.P99 = l.Max
	}
	return l
}

// The request bodies are written by hand into a reused buffer: the
// values come from the population's fixed vocabulary and ids.

func appendDecide(b []byte, customer, channel string, limit int, ctx map[string]any) []byte {
	b = append(b, `{"customer_id":`...)
	b = appendString(b, customer)
	b = append(b, `,"channel":`...)
	b = appendString(b, channel)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	if len(ctx) > 0 {
		b = append(b, `,"context":`...)
		b = appendObject(b, ctx)
	}
	return append(b, '}')
}

func appendOutcome(b []byte, decisionID, actionID string, ts []byte) []byte {
	b = append(b, `{"decision_id":`...)
	b = appendString(b, decisionID)
	b = append(b, `,"action_id":`...)
	b = appendString(b, actionID)
	b = append(b, `,"reward":1,"type":"conversion","ts":"`...)
	b = append(b, ts...)
	return append(b, `"}`...)
}

func appendEvent(b []byte, customer string, e *features.Event, ts []byte) []byte {
	b = append(b, `{"customer_id":`...)
	b = appendString(b, customer)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"ts":"`...)
	b = append(b, ts...)
	b = append(b, '"')
	if e.Channel != "" {
		b = append(b, `,"channel":`...)
		b = appendString(b, e.Channel)
	}
	if len(e.Properties) > 0 {
		b = append(b, `,"properties":`...)
		b = appendObject(b, e.Properties)
	}
	return append(b, '}')
}

// appendObject writes a flat map of strings, numbers and bools with its
// keys sorted (so that bodies are reproducible).
func appendObject(b []byte, m map[string]any) []byte {
	var keysBuf [8]string
	keys := keysBuf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		switch x := m[k].(type) {
		case string:
			b = appendString(b, x)
		case float64:
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
		case int:
			b = strconv.AppendInt(b, int64(x), 10)
		case bool:
			b = strconv.AppendBool(b, x)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
