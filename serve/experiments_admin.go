package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
	"gopkg.in/yaml.v3"

	"nextbest/cluster/stream"
	"nextbest/decide"
	"nextbest/journal"
	"nextbest/models"
)

// Experiments at runtime: the admin API creates, replaces, ramps, stops
// and archives experiments without a restart. The live set is one
// document (the experiments file's YAML, `experiments: [...]`) kept in an
// liveDocStore: a file in the data directory on the embedded path, a
// key of the registry bucket in JetStream on the cluster path, which
// every instance watches. A change is validated exactly as the config's
// experiments are at start (decide.ParseExperiments, then every arm
// resolved to what serves it) before it is saved, and recorded in the
// model registry's history when there is one.

// liveDocStore keeps a live document (the experiments, the shadow).
type liveDocStore interface {
	// Load returns the saved document, nil when none was saved (the
	// config's experiments then run).
	Load() ([]byte, error)
	Save(doc []byte) error
	// Watch calls fn with every document another instance saves, until
	// ctx ends (nothing on the embedded path).
	Watch(ctx context.Context, fn func([]byte))
}

type fileDoc struct{ path string }

func (f fileDoc) Load() ([]byte, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (f fileDoc) Save(doc []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".experiments-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(doc)
	if err == nil {
		err = tmp.Sync()
	}
	err = errors.Join(err, tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot save the experiments: %w", err)
	}
	d, err := os.Open(filepath.Dir(f.path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (fileDoc) Watch(context.Context, func([]byte)) {}

// clusterDoc keeps the document under key in the registry bucket.
type clusterDoc struct {
	reg *stream.Registry
	key string
}

func (c clusterDoc) Load() ([]byte, error) { return c.reg.Document(c.key) }
func (c clusterDoc) Save(doc []byte) error { return c.reg.PutDocument(c.key, doc) }
func (c clusterDoc) Watch(ctx context.Context, fn func([]byte)) {
	c.reg.WatchDocument(ctx, c.key, fn)
}

// liveStore returns where the live document name (experiments, shadow)
// is kept: a key of the cluster's registry bucket, or a file in the data
// directory.
func (s *Service) liveStore(name string) liveDocStore {
	if reg, ok := s.registry.(*stream.Registry); ok {
		return clusterDoc{reg, name}
	}
	return fileDoc{filepath.Join(s.cfg.DataDir, name+".yaml")}
}

// watchDoc follows the live document of store (a change another instance
// saved, or this one), applying each; what fails to apply is logged as
// failure says and changes nothing.
func (s *Service) watchDoc(store liveDocStore, failure string, apply func(doc []byte) error) {
	s.bgTasks.Go(func() {
		store.Watch(s.background, func(doc []byte) {
			if err := apply(doc); err != nil {
				s.log.Error(failure, "err", err)
			}
		})
	})
}

// openExperiments starts the live experiments: the saved document when
// there is one (it supersedes the config's), else the config's.
func (s *Service) openExperiments() error {
	s.expStore = s.liveStore("experiments")
	exps := s.cfg.Experiments
	doc, err := s.expStore.Load()
	if err != nil {
		return err
	}
	if doc != nil {
		if exps, err = decide.ParseExperiments(doc); err != nil {
			return fmt.Errorf("the experiments saved through the admin API: %w", err)
		}
		s.log.Info("running the experiments saved through the admin API (they supersede the config's)", "experiments", len(exps))
	}
	live, err := s.resolveExperiments(exps)
	if err != nil {
		return err
	}
	s.experiments.Store(&live)
	s.watchDoc(s.expStore, "not running the experiments another instance saved", s.applyExperiments)
	return nil
}

// applyExperiments validates, resolves and runs doc.
func (s *Service) applyExperiments(doc []byte) error {
	live, err := s.liveOf(doc)
	if err != nil {
		return err
	}
	s.runExperiments(live)
	return nil
}

// liveOf validates doc and resolves every arm to what serves it, as Open
// does with the config's experiments.
func (s *Service) liveOf(doc []byte) ([]experimentRuntime, error) {
	exps, err := decide.ParseExperiments(doc)
	if err != nil {
		return nil, err
	}
	return s.resolveExperiments(exps)
}

// runExperiments makes live the experiments decisions are assigned to,
// and drops the cached analysis.
func (s *Service) runExperiments(live []experimentRuntime) {
	s.experiments.Store(&live)
	s.expMu.Lock()
	s.expCache = nil
	s.expMu.Unlock()
}

// record records an administrative change in the audit trail and, when
// the model registry keeps a history, there too; a failure is logged (the
// change it records is made).
func (s *Service) record(e models.Event) {
	detail := e.Reason
	if e.Version > 0 {
		detail = strings.TrimSpace(fmt.Sprintf("v%d %s", e.Version, detail))
	}
	s.audit(e.By, e.Kind, detail)
	rec, ok := s.registry.(interface{ Record(models.Event) error })
	if !ok {
		return
	}
	if err := rec.Record(e); err != nil {
		s.log.Warn("cannot record in the model registry's history", "kind", e.Kind, "err", err)
	}
}

// audit journals an administrative change (the audit trail: GET
// /v1/audit, nextbest audit); a failure is logged.
func (s *Service) audit(by, kind, detail string) {
	now := s.cfg.Now().UTC()
	b, err := json.Marshal(journal.Audit{V: journal.SchemaVersion, Time: now, By: by, Kind: kind, Detail: detail})
	if err == nil {
		_, err = s.journal.AppendLive(context.Background(), journal.TypeAudit, now, b, nil)
	}
	if err != nil {
		s.log.Error("cannot journal an audit record", "kind", kind, "by", by, "err", err)
	}
}

// handleAudit answers GET /v1/audit[?limit=N]: the audit trail, oldest
// first, the latest N (default 1,000).
func (s *Service) handleAudit(ctx *fasthttp.RequestCtx) {
	limit := 1000
	if v := ctx.QueryArgs().Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			writeError(ctx, 400, "invalid_argument", "limit", "limit must be a positive integer")
			return
		}
		limit = n
	}
	recs, err := s.state.Audit(limit)
	if err != nil {
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if recs == nil {
		recs = []journal.Audit{}
	}
	writeJSON(ctx, 200, map[string]any{"audit": recs})
}

// experimentsDoc renders experiments as the experiments file does.
func experimentsDoc(exps []*decide.Experiment) ([]byte, error) {
	return yaml.Marshal(map[string]any{"experiments": exps})
}

// handleExperimentsAdmin serves /admin/experiments[/NAME[/stop|/ramp]]:
//
//	GET    /admin/experiments              the live experiments
//	PUT    /admin/experiments/NAME         create or replace NAME (body: the experiment, JSON)
//	POST   /admin/experiments/NAME/ramp    set the arms' shares (body: {"shares": {"arm": share, ...}})
//	POST   /admin/experiments/NAME/stop    end NAME now (it stays, for its analysis)
//	DELETE /admin/experiments/NAME         archive NAME (its analysis stays in nextbest report)
func (s *Service) handleExperimentsAdmin(ctx *fasthttp.RequestCtx, rest string) {
	if rest != "" && !strings.HasPrefix(rest, "/") {
		writeError(ctx, 404, "not_found", "", "no such endpoint: "+string(ctx.Path()))
		return
	}
	rest = strings.TrimPrefix(rest, "/")
	name, action, _ := strings.Cut(rest, "/")
	method := string(ctx.Method())
	if name == "" {
		if method != fasthttp.MethodGet {
			writeError(ctx, 405, "method_not_allowed", "", "GET /admin/experiments lists them; change one under /admin/experiments/NAME")
			return
		}
		writeJSON(ctx, 200, map[string]any{"experiments": s.liveList()})
		return
	}
	var change func([]*decide.Experiment) ([]*decide.Experiment, error)
	var kind string
	switch {
	case action == "" && method == fasthttp.MethodPut:
		kind = "experiment_put"
		var e decide.Experiment
		if err := json.Unmarshal(ctx.PostBody(), &e); err != nil {
			writeErr(ctx, &fieldError{status: 400, code: "invalid_argument", reason: "the body must be an experiment as JSON: " + err.Error()})
			return
		}
		if e.Name != name {
			writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: "name", reason: fmt.Sprintf("the body names experiment %q, the path %q", e.Name, name)})
			return
		}
		change = func(exps []*decide.Experiment) ([]*decide.Experiment, error) {
			i := slices.IndexFunc(exps, func(x *decide.Experiment) bool { return x.Name == name })
			if i < 0 {
				return append(exps, &e), nil
			}
			exps[i] = &e
			return exps, nil
		}
	case action == "" && method == fasthttp.MethodDelete:
		kind = "experiment_archived"
		change = func(exps []*decide.Experiment) ([]*decide.Experiment, error) {
			i := slices.IndexFunc(exps, func(x *decide.Experiment) bool { return x.Name == name })
			if i < 0 {
				return nil, errNoExperiment
			}
			return slices.Delete(exps, i, i+1), nil
		}
	case action == "stop" && method == fasthttp.MethodPost:
		kind = "experiment_stopped"
		now := s.cfg.Now().UTC()
		change = func(exps []*decide.Experiment) ([]*decide.Experiment, error) {
			e := find(exps, name)
			if e == nil {
				return nil, errNoExperiment
			}
			if e.End.IsZero() || e.End.After(now) {
				e.End = now
			}
			return exps, nil
		}
	case action == "ramp" && method == fasthttp.MethodPost:
		kind = "experiment_ramped"
		var body struct {
			Shares map[string]float64 `json:"shares"`
		}
		if err := json.Unmarshal(ctx.PostBody(), &body); err != nil || len(body.Shares) == 0 {
			writeErr(ctx, &fieldError{status: 400, code: "invalid_argument", field: "shares", reason: `the body must be {"shares": {"ARM": SHARE, ...}}`})
			return
		}
		change = func(exps []*decide.Experiment) ([]*decide.Experiment, error) {
			e := find(exps, name)
			if e == nil {
				return nil, errNoExperiment
			}
			for arm, share := range body.Shares {
				i := slices.IndexFunc(e.Arms, func(a decide.Arm) bool { return a.Name == arm })
				if i < 0 {
					return nil, &fieldError{status: 422, code: "unprocessable", field: "shares." + arm, reason: fmt.Sprintf("experiment %s has no arm %q", name, arm)}
				}
				e.Arms[i].Share = share
			}
			return exps, nil
		}
	default:
		writeError(ctx, 405, "method_not_allowed", "", "PUT or DELETE /admin/experiments/NAME, POST /admin/experiments/NAME/stop or /ramp")
		return
	}
	if err := s.changeExperiments(caller(ctx), kind, name, change); err != nil {
		var ce *decide.CatalogError
		switch {
		case errors.Is(err, errNoExperiment):
			writeErr(ctx, &fieldError{status: 404, code: "not_found", field: "name", reason: fmt.Sprintf("no live experiment %q", name)})
		case errors.As(err, &ce):
			writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: ce.Field, reason: ce.Reason})
		default:
			var fe *fieldError
			if errors.As(err, &fe) {
				writeErr(ctx, fe)
				return
			}
			writeErr(ctx, &fieldError{status: 422, code: "unprocessable", reason: err.Error()})
		}
		return
	}
	writeJSON(ctx, 200, map[string]any{"experiments": s.liveList()})
}

// liveList returns the live experiments' definitions.
func (s *Service) liveList() []*decide.Experiment {
	var list []*decide.Experiment
	for _, rt := range s.liveExperiments() {
		list = append(list, rt.exp)
	}
	return list
}

var errNoExperiment = errors.New("no such experiment")

func find(exps []*decide.Experiment, name string) *decide.Experiment {
	for _, e := range exps {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// changeExperiments applies change to a copy of the live experiments,
// validates and resolves the result as Open would, saves it and runs it,
// and records the change. Nothing changes if any step fails.
func (s *Service) changeExperiments(by, kind, name string, change func([]*decide.Experiment) ([]*decide.Experiment, error)) error {
	s.expAdminMu.Lock()
	defer s.expAdminMu.Unlock()
	// a deep copy through the document, so that the live set is never
	// touched by a change that fails
	doc, err := experimentsDoc(s.liveList())
	if err != nil {
		return err
	}
	working, err := decide.ParseExperiments(doc)
	if err != nil {
		return err
	}
	next, err := change(working)
	if err != nil {
		return err
	}
	if doc, err = experimentsDoc(next); err != nil {
		return err
	}
	live, err := s.liveOf(doc)
	if err != nil {
		return err
	}
	if err := s.expStore.Save(doc); err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	s.runExperiments(live)
	s.log.Info("experiments changed", "change", kind, "experiment", name)
	s.record(models.Event{Kind: kind, By: by, Reason: "experiment " + name})
	return nil
}
