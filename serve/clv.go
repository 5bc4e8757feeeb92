package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"

	"github.com/valyala/fasthttp"

	"nextbest/clv"
	"nextbest/features"
	"nextbest/models"
)

// The CLV model. With a feature spec that keeps purchase histories
// (profile.clv), the BG/NBD and Gamma-Gamma parameters of a batch fit
// (`nextbest clv fit --json`, whose top-level keys this document takes)
// turn each profile's history into its lifetime-value figures
// (features.Spec.CLV): vector sources, rule fields, and the value of
// actions with clv_uplift. The configuration may name a fit (clv_model);
// PUT /admin/clv replaces it at runtime (`nextbest clv fit --apply`),
// kept like the learning mode (a file in the data directory, a key of the
// cluster's registry bucket every instance watches; a saved model
// supersedes the configuration's) and recorded in the audit trail.

// CLVDoc is the CLV model document.
type CLVDoc struct {
	// BG/NBD: purchase rate heterogeneity r, alpha; dropout a, b (time in
	// weeks, as `nextbest clv fit` fits them).
	R     float64 `json:"r" yaml:"r"`
	Alpha float64 `json:"alpha" yaml:"alpha"`
	A     float64 `json:"a" yaml:"a"`
	B     float64 `json:"b" yaml:"b"`
	// Gamma-Gamma: spend per purchase p, q, gamma.
	P     float64 `json:"p" yaml:"p"`
	Q     float64 `json:"q" yaml:"q"`
	Gamma float64 `json:"gamma" yaml:"gamma"`
	// The horizon: HorizonWeeks ahead (default 52) in steps of StepWeeks
	// (default a month, 52/12), discounted at AnnualDiscount a year
	// (default 0.10).
	HorizonWeeks   float64  `json:"horizon_weeks,omitempty" yaml:"horizon_weeks,omitempty"`
	StepWeeks      float64  `json:"step_weeks,omitempty" yaml:"step_weeks,omitempty"`
	AnnualDiscount *float64 `json:"annual_discount,omitempty" yaml:"annual_discount,omitempty"`
	// Version names the parameters (set by the service: a hash of them).
	Version string `json:"version,omitempty" yaml:"version,omitempty"`
}

// clvModel validates d, fills in its defaults and version, and returns
// the features' model; errors name the field.
func (d *CLVDoc) clvModel() (*features.CLVModel, error) {
	bad := func(field, reason string) error {
		return &fieldError{status: 422, code: "unprocessable", field: field, reason: reason}
	}
	if d.HorizonWeeks == 0 {
		d.HorizonWeeks = 52
	}
	if d.StepWeeks == 0 {
		d.StepWeeks = 52.0 / 12
	}
	if d.AnnualDiscount == nil {
		r := 0.10
		d.AnnualDiscount = &r
	}
	if !(*d.AnnualDiscount > -1 && *d.AnnualDiscount < 10) {
		return nil, bad("annual_discount", fmt.Sprintf("%v: want a rate above -1 and below 10", *d.AnnualDiscount))
	}
	m := &features.CLVModel{
		Model: clv.Model{BGNBD: clv.BGNBD{R: d.R, Alpha: d.Alpha, A: d.A, B: d.B},
			Spend: clv.GammaGamma{P: d.P, Q: d.Q, Gamma: d.Gamma}},
		Horizon: clv.AnnualHorizon(d.HorizonWeeks, d.StepWeeks, *d.AnnualDiscount),
	}
	if err := m.Model.Validate(); err != nil {
		return nil, bad("model", err.Error())
	}
	if err := m.Horizon.Validate(); err != nil || math.IsInf(d.HorizonWeeks, 0) {
		return nil, bad("horizon_weeks", fmt.Sprintf("horizon of %v weeks in steps of %v: %v", d.HorizonWeeks, d.StepWeeks, err))
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%v %v %v %v %v %v %v %v %v %v", d.R, d.Alpha, d.A, d.B, d.P, d.Q, d.Gamma, d.HorizonWeeks, d.StepWeeks, *d.AnnualDiscount))
	d.Version = hex.EncodeToString(sum[:6])
	m.Version = d.Version
	return m, nil
}

// openCLV starts the saved CLV model, else the configuration's, and
// follows changes.
func (s *Service) openCLV() error {
	s.clvStore = s.liveStore("clv")
	doc, err := s.clvStore.Load()
	if err != nil {
		return err
	}
	d := s.cfg.CLVModel
	if doc != nil {
		d = new(CLVDoc)
		if err := json.Unmarshal(doc, d); err != nil {
			return fmt.Errorf("the CLV model saved through the admin API: %w", err)
		}
	}
	if err := s.useCLV(d); err != nil {
		return fmt.Errorf("clv_model: %w", err)
	}
	s.watchDoc(s.clvStore, "not using the CLV model another instance saved", func(doc []byte) error {
		d := new(CLVDoc)
		if err := json.Unmarshal(doc, d); err != nil {
			return err
		}
		return s.useCLV(d)
	})
	return nil
}

// useCLV makes d (nil: none) the live CLV model.
func (s *Service) useCLV(d *CLVDoc) error {
	if d == nil {
		s.clvDoc.Store(nil)
		return s.spec.SetCLVModel(nil)
	}
	c := *d
	m, err := c.clvModel()
	if err != nil {
		return err
	}
	if err := s.spec.SetCLVModel(m); err != nil {
		return &fieldError{status: 422, code: "unprocessable", field: "model", reason: err.Error()}
	}
	s.clvDoc.Store(&c)
	return nil
}

// handleCLVAdmin serves /admin/clv: GET the live CLV model (404 when
// none), PUT one (the JSON of `nextbest clv fit --json`, with optional
// horizon_weeks, step_weeks, annual_discount).
func (s *Service) handleCLVAdmin(ctx *fasthttp.RequestCtx) {
	s.expAdminMu.Lock()
	defer s.expAdminMu.Unlock()
	switch string(ctx.Method()) {
	case fasthttp.MethodGet:
	case fasthttp.MethodPut:
		var d CLVDoc
		if err := json.Unmarshal(ctx.PostBody(), &d); err != nil {
			writeErr(ctx, &fieldError{status: 400, code: "invalid_argument", reason: `the body must be the JSON of "nextbest clv fit --json" ({"r":…,"alpha":…,"a":…,"b":…,"p":…,"q":…,"gamma":…}): ` + err.Error()})
			return
		}
		if err := s.useCLV(&d); err != nil {
			writeErr(ctx, err)
			return
		}
		live := s.clvDoc.Load()
		doc, err := json.Marshal(live)
		if err != nil {
			writeErr(ctx, err)
			return
		}
		if err := s.clvStore.Save(doc); err != nil {
			writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
		s.record(models.Event{Kind: "clv_model_set", By: caller(ctx), Reason: fmt.Sprintf("CLV model %s (r %.4g, alpha %.4g, a %.4g, b %.4g, p %.4g, q %.4g, gamma %.4g; %g weeks)",
			live.Version, live.R, live.Alpha, live.A, live.B, live.P, live.Q, live.Gamma, live.HorizonWeeks)})
	default:
		writeError(ctx, 405, "method_not_allowed", "", "GET or PUT /admin/clv")
		return
	}
	d := s.clvDoc.Load()
	if d == nil {
		writeError(ctx, 404, "not_found", "", "no CLV model: PUT one (nextbest clv fit --apply)")
		return
	}
	writeJSON(ctx, 200, d)
}
