package stream_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"nextbest/cluster/stream"
	"nextbest/internal/engines"
	"nextbest/models"
)

// modelSource is serve.ModelSource (serve/contracts.go), repeated here so
// that this package's tests do not build the server. Registry must keep
// satisfying it.
type modelSource interface {
	PromotedVersion() (int, error)
	Get(version int) (*models.Artifact, error)
	List() ([]models.Entry, error)
}

var _ modelSource = (*stream.Registry)(nil)

func openRegistry(t *testing.T, s *stream.Stream) *stream.Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r, err := s.Registry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ridgeArtifact(t *testing.T, name string) *models.Artifact {
	t.Helper()
	m, err := models.NewRidge(models.RidgeConfig{Dim: 3, Actions: 2, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		x := []float64{1, float64(i % 7), float64(i % 3)}
		if err := m.Update(i%2, x, x[1]); err != nil {
			t.Fatal(err)
		}
	}
	m.Publish()
	art, err := models.NewArtifact(models.Metadata{Name: name, FeatureSpec: strings.Repeat("1", 64),
		ActionIDs: []string{"a", "b"}, Metrics: map[string]float64{"auc": 0.7}}, m)
	if err != nil {
		t.Fatal(err)
	}
	return art
}

func TestRegistry(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	r := openRegistry(t, s)

	if _, err := r.PromotedVersion(); !errors.Is(err, models.ErrNoVersion) {
		t.Fatalf("PromotedVersion of an empty registry = %v, want ErrNoVersion", err)
	}
	if es, err := r.List(); err != nil || len(es) != 0 {
		t.Fatalf("List of an empty registry = %v, %v", es, err)
	}
	if _, err := r.Get(1); !errors.Is(err, models.ErrNoVersion) {
		t.Fatalf("Get(1) of an empty registry = %v, want ErrNoVersion", err)
	}
	if err := r.Promote(1); !errors.Is(err, models.ErrNoVersion) {
		t.Fatalf("Promote(1) of an empty registry = %v, want ErrNoVersion", err)
	}

	a1, a2 := ridgeArtifact(t, "linucb"), ridgeArtifact(t, "ts")
	v1, err := r.Save(a1)
	if err != nil || v1 != 1 || a1.Meta.Version != 1 {
		t.Fatalf("Save = %d, %v (meta version %d), want 1", v1, err, a1.Meta.Version)
	}
	v2, err := r.Save(a2)
	if err != nil || v2 != 2 {
		t.Fatalf("second Save = %d, %v, want 2", v2, err)
	}
	got, err := r.Get(2)
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta.Name != "ts" || got.Meta.Version != 2 || !bytes.Equal(got.Payload, a2.Payload) {
		t.Fatalf("Get(2) = %+v", got.Meta)
	}
	if _, err := models.LoadScorer(got, strings.Repeat("1", 64), []string{"a", "b"}); err != nil {
		t.Fatalf("the artifact read back does not load: %v", err)
	}

	if err := r.Promote(2); err != nil {
		t.Fatal(err)
	}
	if v, err := r.PromotedVersion(); err != nil || v != 2 {
		t.Fatalf("PromotedVersion = %d, %v, want 2", v, err)
	}
	if err := r.Promote(9); !errors.Is(err, models.ErrNoVersion) {
		t.Fatalf("Promote(9) = %v, want ErrNoVersion", err)
	}
	if v, _ := r.PromotedVersion(); v != 2 {
		t.Fatalf("a refused Promote changed the promoted version to %d", v)
	}

	es, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 {
		t.Fatalf("List = %+v, want 2 entries", es)
	}
	for i, e := range es {
		if e.Version != i+1 || e.Err != nil || e.Size == 0 || e.Meta.Version != i+1 || e.Promoted != (i == 1) ||
			!strings.HasSuffix(e.Path, "/v00000"+string(rune('1'+i))+".nbm") {
			t.Fatalf("entry %d = %+v", i, e)
		}
	}
	if es[0].Meta.Name != "linucb" || es[1].Meta.Metrics["auc"] != 0.7 {
		t.Fatalf("metadata in List: %+v, %+v", es[0].Meta, es[1].Meta)
	}

	// A second Registry over the same buckets (another instance) sees the
	// same versions, and continues the numbering.
	r2 := openRegistry(t, open(t, srv, nil))
	if v, err := r2.PromotedVersion(); err != nil || v != 2 {
		t.Fatalf("another instance: PromotedVersion = %d, %v", v, err)
	}
	if v, err := r2.Save(ridgeArtifact(t, "third")); err != nil || v != 3 {
		t.Fatalf("another instance: Save = %d, %v, want 3", v, err)
	}
}

// TestRegistryConcurrentSave saves from several registries at once (as
// several processes would) and checks every version is handed out once.
func TestRegistryConcurrentSave(t *testing.T) {
	srv := engines.NATS(t)
	const writers, each = 4, 3
	regs := make([]*stream.Registry, writers)
	for i := range regs {
		regs[i] = openRegistry(t, open(t, srv, nil))
	}
	var (
		mu   sync.Mutex
		seen = map[int]string{}
		wg   sync.WaitGroup
		errs []error
	)
	for w, r := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				art := &models.Artifact{Meta: models.Metadata{Type: models.TypeRidge, Name: string(rune('a'+w)) + string(rune('0'+i))}, Payload: []byte("model")}
				v, err := r.Save(art)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if prev, ok := seen[v]; ok {
					errs = append(errs, errors.New("version handed out twice: "+prev+" and "+art.Meta.Name))
				} else {
					seen[v] = art.Meta.Name
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	es, err := regs[0].List()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != writers*each {
		t.Fatalf("List has %d versions, want %d", len(es), writers*each)
	}
	for i, e := range es {
		if e.Version != i+1 || e.Err != nil || e.Meta.Name != seen[e.Version] {
			t.Fatalf("entry %d = %+v, want version %d saved as %q", i, e, i+1, seen[i+1])
		}
		if a, err := regs[1].Get(e.Version); err != nil || a.Meta.Name != seen[e.Version] {
			t.Fatalf("Get(%d) = %v, %v", e.Version, a, err)
		}
	}
}

// TestRegistryWatch checks that Watch reports the promoted version at
// start and each promotion after it, also one made on another
// connection, and resumes after a server restart.
func TestRegistryWatch(t *testing.T) {
	srv := engines.NATS(t)
	s := open(t, srv, nil)
	r := openRegistry(t, s)
	other := openRegistry(t, open(t, srv, nil))
	for i := range 3 {
		if _, err := r.Save(ridgeArtifact(t, "m"+string(rune('1'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Promote(1); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	versions := make(chan int, 16)
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx, func(v int) { versions <- v }) }()
	next := func(want int) {
		t.Helper()
		select {
		case v := <-versions:
			if v != want {
				t.Fatalf("Watch reported %d, want %d", v, want)
			}
		case <-ctx.Done():
			t.Fatalf("Watch did not report version %d", want)
		}
	}
	next(1) // the version promoted when Watch started
	start := time.Now()
	if err := other.Promote(3); err != nil {
		t.Fatal(err)
	}
	next(3)
	if d := time.Since(start); d > time.Second {
		t.Errorf("promotion reached Watch after %v, want under a second", d)
	}

	// A restart: the watch is set up again, reports the version promoted
	// now (made while it was down, seen from the other connection's
	// point of view once it is back), and follows promotions after it.
	srv.Kill()
	srv.Start()
	if err := other.Promote(2); err != nil {
		// other may still be reconnecting; retry until it is back.
		waitFor(t, "the other instance to promote after the restart", func() bool { return other.Promote(2) == nil })
	}
	for v := 0; v != 2; {
		select {
		case v = <-versions:
			if v != 2 && v != 3 { // a re-report of the version promoted before the restart is allowed
				t.Fatalf("Watch reported %d after the restart, want 3 (again) or 2", v)
			}
		case <-ctx.Done():
			t.Fatal("Watch did not report the promotion made after the restart")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch after cancel = %v", err)
	}
}
