package training_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"nextbest/internal/journaltest"
	"nextbest/logs"
	"nextbest/models"
	"nextbest/training"
)

// pipelineJournal writes a small journal of n decisions a minute apart,
// each showing two of the retail actions; every third one's first action
// converts within the hour, and one outcome comes a day late.
func pipelineJournal(t *testing.T, specHash string, n int) string {
	t.Helper()
	ids := []string{"free-shipping", "cart-reminder-10", "new-arrivals", "style-guide"}
	var recs []any
	for i := range n {
		id := fmt.Sprintf("d%03d", i)
		at := journaltest.T0.Add(time.Duration(i) * time.Minute)
		recs = append(recs, journaltest.Decision(id, at, specHash, ids[i%4], ids[(i+1)%4]))
		if i%3 == 0 {
			recs = append(recs, journaltest.Outcome(id, ids[i%4], "conversion", 1, at.Add(10*time.Minute)))
		}
	}
	recs = append(recs, journaltest.Outcome("d001", ids[1], "conversion", 1, journaltest.T0.Add(25*time.Hour)))
	return journaltest.Write(t, recs...)
}

func openRegistry(t *testing.T) *models.Registry {
	t.Helper()
	reg, err := models.OpenRegistry(filepath.Join(t.TempDir(), "registry"))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestRunJournal: Run on a journal gives the model that the stages run
// by hand give (logs.Join, BuildDataset, Train: the same payload, byte
// for byte), saves it in the registry with its metadata, and reports the
// join's and the build's counts.
func TestRunJournal(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	dir := pipelineJournal(t, spec.Hash(), 60)
	reg := openRegistry(t)
	join := logs.JoinConfig{Window: 24 * time.Hour, DefaultReward: -0.01}
	tc := training.TrainConfig{Model: training.ModelLinUCB, Lambda: 2, Seed: 7}
	rep, err := training.Run(context.Background(), training.Job{Journal: dir, Join: join, Spec: spec, Catalog: cat, Train: tc, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}

	joined, _, err := logs.Join(context.Background(), dir, join)
	if err != nil {
		t.Fatal(err)
	}
	ds, bst, err := training.BuildDataset(joined, spec, cat)
	if err != nil {
		t.Fatal(err)
	}
	res, err := training.Train(ds, tc)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if _, err := res.Scorer.(*models.Ridge).WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rep.Artifact.Payload, want.Bytes()) {
		t.Errorf("Run's model differs from logs.Join → BuildDataset → Train by hand")
	}

	if rep.Join.Decisions != 60 || rep.Join.Joined != 20 || rep.Join.Late != 1 {
		t.Errorf("join stats %+v, want 60 decisions, 20 joined, 1 late", rep.Join)
	}
	if rep.Build != bst || bst.Rows != 120 {
		t.Errorf("build stats %+v, want %+v (120 rows)", rep.Build, bst)
	}
	if rep.Dim != spec.Dim() || !slices.Equal(rep.ActionIDs, catalogIDs(cat)) {
		t.Errorf("dim %d, actions %v", rep.Dim, rep.ActionIDs)
	}
	if rep.Version != 1 || rep.Source != "journal "+dir {
		t.Errorf("version %d, source %q", rep.Version, rep.Source)
	}
	art, err := reg.Get(1)
	if err != nil {
		t.Fatal(err)
	}
	m := art.Meta
	if m.Name != "linucb" || m.Type != models.TypeRidge || m.FeatureSpec != spec.Hash() || m.Source != "journal "+dir ||
		m.Examples != res.TrainRows || m.Hyper["lambda"] != 2.0 {
		t.Errorf("metadata %+v", m)
	}
	if !m.TrainFrom.Equal(journaltest.T0) || !m.TrainTo.Equal(journaltest.T0.Add(59*time.Minute)) {
		t.Errorf("trained on %v – %v, want the decisions' times %v – %v", m.TrainFrom, m.TrainTo, journaltest.T0, journaltest.T0.Add(59*time.Minute))
	}
	for _, k := range []string{"log_loss", "auc", "ece", "rmse", "heldout_rows"} {
		if _, ok := m.Metrics[k]; !ok {
			t.Errorf("metrics lack %s: %v", k, m.Metrics)
		}
	}
	if m.Metrics["heldout_rows"] != float64(rep.Result.Metrics.N) || rep.Result.Metrics.N == 0 {
		t.Errorf("held out %v rows, result says %d", m.Metrics["heldout_rows"], rep.Result.Metrics.N)
	}
	if _, err := models.LoadScorer(art, spec.Hash(), catalogIDs(cat)); err != nil {
		t.Errorf("the saved model cannot be served: %v", err)
	}
	if p, _ := reg.PromotedVersion(); p != 0 {
		t.Errorf("Run promoted version %d; promotion is the operator's", p)
	}
}

// TestRunDataFile: the DSJSON fixture (three decisions named after the
// retail spec's inputs) trains into a servable artifact through the spec.
func TestRunDataFile(t *testing.T) {
	spec, cat := retailSpec(t)
	reg := openRegistry(t)
	file := training.DataFile{Format: training.FormatDSJSON, Path: "testdata/retail.dsjson"}
	rep, err := training.Run(context.Background(), training.Job{File: file, Spec: spec, Catalog: cat,
		Train: training.TrainConfig{Model: training.ModelLinTS, PerAction: true, HoldOut: -1}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if rep.File != (training.FileStats{Rows: 3}) || rep.Mismatch != nil {
		t.Errorf("file stats %+v, mismatch %v", rep.File, rep.Mismatch)
	}
	m := rep.Artifact.Meta
	if rep.Version != 1 || m.Version != 1 || m.Source != "dsjson testdata/retail.dsjson" || m.FeatureSpec != spec.Hash() ||
		m.Name != "lints" || !slices.Equal(m.ActionIDs, rep.ActionIDs) || m.Examples != 3 {
		t.Errorf("version %d, metadata %+v", rep.Version, m)
	}
	if want := time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC); !m.TrainFrom.Equal(want) {
		t.Errorf("TrainFrom %v, want the first Timestamp %v", m.TrainFrom, want)
	}
	if _, err := models.LoadScorer(rep.Artifact, spec.Hash(), catalogIDs(cat)); err != nil {
		t.Errorf("the model cannot be served: %v", err)
	}
}

// TestRunFeatureMismatch: a file with a feature the spec does not read is
// refused and nothing is saved; AllowMismatch trains it and reports how
// it differs.
func TestRunFeatureMismatch(t *testing.T) {
	spec, cat := retailSpec(t)
	data := strings.ReplaceAll(string(readFile(t, "testdata/retail.dsjson")), `"context":{`, `"context":{"weather":"rain",`)
	path := filepath.Join(t.TempDir(), "weather.dsjson")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := openRegistry(t)
	job := training.Job{File: training.DataFile{Format: training.FormatDSJSON, Path: path}, Spec: spec, Catalog: cat,
		Train: training.TrainConfig{Model: training.ModelLinUCB, HoldOut: -1}, Registry: reg}
	_, err := training.Run(context.Background(), job)
	var fm *training.FeatureMismatchError
	if !errors.Is(err, training.ErrFeatureMismatch) || !errors.As(err, &fm) || !slices.Equal(fm.Unknown, []string{"context.weather"}) {
		t.Fatalf("Run: %v, want a mismatch naming context.weather", err)
	}
	if list, _ := reg.List(); len(list) != 0 {
		t.Fatalf("a refused file was saved: %+v", list)
	}
	job.AllowMismatch = true
	rep, err := training.Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mismatch == nil || !slices.Equal(rep.Mismatch.Unknown, []string{"context.weather"}) || rep.Version != 1 {
		t.Errorf("mismatch %v, version %d", rep.Mismatch, rep.Version)
	}
}

// TestRunHashed: the hashed layout trains (metrics only) and makes no
// artifact.
func TestRunHashed(t *testing.T) {
	rep, err := training.Run(context.Background(), training.Job{
		File:   training.DataFile{Format: training.FormatDSJSON, Path: "testdata/retail.dsjson"},
		Hashed: &training.HashedLayout{SharedDim: 16, ActionDim: 4},
		Train:  training.TrainConfig{Model: training.ModelLinUCB, HoldOut: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Artifact != nil || rep.Version != 0 || rep.Result == nil || rep.File.Rows != 3 || !strings.Contains(rep.Layout, "not servable") {
		t.Errorf("report %+v", rep)
	}
}

// TestRunErrors: jobs that cannot run are refused before reading
// anything, with the sentinel that says why.
func TestRunErrors(t *testing.T) {
	spec, cat := journaltest.Retail(t)
	dir := pipelineJournal(t, spec.Hash(), 6)
	file := training.DataFile{Format: training.FormatDSJSON, Path: "testdata/retail.dsjson"}
	lin := training.TrainConfig{Model: training.ModelLinUCB}
	hashed := &training.HashedLayout{SharedDim: 8, ActionDim: 4}
	reg := openRegistry(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		job  training.Job
		want error
	}{
		{"no source", nil, training.Job{Spec: spec, Catalog: cat, Train: lin}, training.ErrBadConfig},
		{"two sources", nil, training.Job{Journal: dir, File: file, Spec: spec, Catalog: cat, Train: lin}, training.ErrBadConfig},
		{"no model", nil, training.Job{Journal: dir, Spec: spec, Catalog: cat}, training.ErrBadConfig},
		{"unknown model", nil, training.Job{Journal: dir, Spec: spec, Catalog: cat, Train: training.TrainConfig{Model: "forest"}}, training.ErrBadConfig},
		{"no spec", nil, training.Job{File: file, Catalog: cat, Train: lin}, training.ErrBadConfig},
		{"journal without catalog", nil, training.Job{Journal: dir, Spec: spec, Train: lin}, training.ErrBadConfig},
		{"hashed journal", nil, training.Job{Journal: dir, Spec: spec, Catalog: cat, Hashed: hashed, Train: lin}, training.ErrBadConfig},
		{"hashed into a registry", nil, training.Job{File: file, Hashed: hashed, Train: lin, Registry: reg}, training.ErrBadConfig},
		{"empty journal", nil, training.Job{Journal: journaltest.Write(t), Spec: spec, Catalog: cat, Train: lin}, training.ErrNoData},
		{"cancelled", cancelled, training.Job{Journal: dir, Spec: spec, Catalog: cat, Train: lin}, context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := c.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			rep, err := training.Run(ctx, c.job)
			if !errors.Is(err, c.want) || rep != nil {
				t.Errorf("Run: %v, %v; want %v", rep, err, c.want)
			}
		})
	}
	if list, _ := reg.List(); len(list) != 0 {
		t.Errorf("a refused job saved %d versions", len(list))
	}
}
