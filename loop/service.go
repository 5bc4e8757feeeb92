package loop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"nextbest/decide"
	"nextbest/experiment"
)

// HTTPService is a running nextbest service (any instance of a cluster)
// steered through its HTTP API: the experiments admin API and GET
// /v1/experiments.
type HTTPService struct {
	// Target is the base URL; Token the admin token ("" for a loopback
	// service without one).
	Target, Token string
	Client        *http.Client
}

// send makes a request of the service; the caller closes the answer's
// body.
func (h *HTTPService) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(h.Target, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	return c.Do(req)
}

// Do calls the service's JSON API (the admin API with Token): body, if
// not nil, is sent as JSON, and a 2xx answer is decoded into out, if not
// nil. Another status is an error with the service's message.
func (h *HTTPService) Do(ctx context.Context, method, path string, body any, out any) error {
	resp, err := h.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		json.Unmarshal(b, &e)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error.Message)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// PutExperiment implements Service.
func (h *HTTPService) PutExperiment(ctx context.Context, e *decide.Experiment) error {
	return h.Do(ctx, "PUT", "/admin/experiments/"+e.Name, e, nil)
}

// ArchiveExperiment implements Service.
func (h *HTTPService) ArchiveExperiment(ctx context.Context, name string) error {
	return h.Do(ctx, "DELETE", "/admin/experiments/"+name, nil, nil)
}

// Experiment implements Service.
func (h *HTTPService) Experiment(ctx context.Context, name string) (*experiment.Result, error) {
	var ans struct {
		Experiments []*experiment.Result `json:"experiments"`
		Errors      map[string]string    `json:"errors"`
	}
	if err := h.Do(ctx, "GET", "/v1/experiments", nil, &ans); err != nil {
		return nil, err
	}
	for _, r := range ans.Experiments {
		if r.Experiment == name {
			return r, nil
		}
	}
	return nil, nil
}

// Fallbacks implements Service, from GET /v1/stats.
func (h *HTTPService) Fallbacks(ctx context.Context, name string) (ArmCounts, error) {
	var st struct {
		Decisions  map[string]map[string]int64 `json:"experiment_decisions"`
		Fallbacks  map[string]map[string]int64 `json:"experiment_fallbacks"`
		Degenerate map[string]map[string]int64 `json:"experiment_degenerate"`
	}
	if err := h.Do(ctx, "GET", "/v1/stats", nil, &st); err != nil {
		return ArmCounts{}, err
	}
	return ArmCounts{Decisions: st.Decisions[name], Fallbacks: st.Fallbacks[name], Degenerate: st.Degenerate[name]}, nil
}

// SetShadow implements Service, through PUT or DELETE /admin/shadow.
func (h *HTTPService) SetShadow(ctx context.Context, version int, explorer *decide.Explorer) error {
	if version == 0 {
		return h.Do(ctx, "DELETE", "/admin/shadow", nil, nil)
	}
	return h.Do(ctx, "PUT", "/admin/shadow", map[string]any{"version": version, "explorer": explorer}, nil)
}

// Latency implements Service from GET /metrics: the p99 of each arm's
// compute stage (nextbest_experiment_decide_compute_seconds), as the upper
// bound of the histogram bucket that holds it, on the instance Target
// reaches.
func (h *HTTPService) Latency(ctx context.Context, name string) (map[string]float64, map[string]uint64, error) {
	resp, err := h.send(ctx, "GET", "/metrics", nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("GET /metrics: %w", err)
	}
	p99, count := map[string]float64{}, map[string]uint64{}
	fam := fams["nextbest_experiment_decide_compute_seconds"]
	if fam == nil {
		return p99, count, nil
	}
	for _, m := range fam.GetMetric() {
		var exp, arm string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "experiment":
				exp = l.GetValue()
			case "arm":
				arm = l.GetValue()
			}
		}
		hist := m.GetHistogram()
		if exp != name || hist == nil || hist.GetSampleCount() == 0 {
			continue
		}
		n := hist.GetSampleCount()
		count[arm] = n
		p99[arm] = math.Inf(1) // past the last bucket
		for _, b := range hist.GetBucket() {
			if float64(b.GetCumulativeCount()) >= 0.99*float64(n) {
				p99[arm] = b.GetUpperBound()
				break
			}
		}
	}
	return p99, count, nil
}

var _ Service = (*HTTPService)(nil)

// Mode implements Service, from GET /admin/mode.
func (h *HTTPService) Mode(ctx context.Context) (Mode, error) {
	var m Mode
	err := h.Do(ctx, "GET", "/admin/mode", nil, &m)
	return m, err
}

// SetMode implements Service, by PUT /admin/mode.
func (h *HTTPService) SetMode(ctx context.Context, m Mode) error {
	return h.Do(ctx, "PUT", "/admin/mode", m, nil)
}

// Outcomes implements Counter, from GET /v1/stats: the outcomes the
// service has recorded, of every type.
func (h *HTTPService) Outcomes(ctx context.Context) (int64, error) {
	var st struct {
		Outcomes map[string]int64 `json:"outcomes_by_type"`
	}
	if err := h.Do(ctx, "GET", "/v1/stats", nil, &st); err != nil {
		return 0, err
	}
	var n int64
	for _, c := range st.Outcomes {
		n += c
	}
	return n, nil
}
