package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"nextbest/models"
)

// PromotedKey is the key of the registry bucket that holds the promoted
// version as decimal text.
const PromotedKey = "promoted"

// Timeouts of the Registry methods that take no context.
const (
	saveTimeout     = 2 * time.Minute // uploads a whole artifact
	registryTimeout = 30 * time.Second
)

// maxSaveTries bounds the version numbers Save tries to claim.
const maxSaveTries = 100

// Registry is the model registry of the cluster path, the counterpart of
// models.Registry's directory: artifacts (models' own format, written by
// Artifact.WriteTo and verified by models.ReadArtifact) are objects
// v000001.nbm, v000002.nbm, ... of a JetStream object store
// (Config.ModelBucket), and a key-value bucket (Config.RegistryBucket)
// holds a key v.<n> per version, claimed atomically, with its metadata,
// and the key "promoted" naming the version serve loads. Versions
// increase and are never reused or rewritten. Its methods are safe for
// concurrent use, by any number of processes.
type Registry struct {
	s   *Stream
	obj jetstream.ObjectStore
	kv  jetstream.KeyValue
}

// versionEntry is the value of key v.<n>: empty while the version is
// claimed and its artifact not yet stored, then this JSON.
type versionEntry struct {
	Object string          `json:"object"`
	Size   int64           `json:"size"`
	Meta   models.Metadata `json:"meta"`
}

// Registry opens the model registry, creating its object store and
// key-value bucket (file storage, the Stream's replicas) if needed.
func (s *Stream) Registry(ctx context.Context) (*Registry, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	obj, err := s.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      s.cfg.ModelBucket,
		Description: "nextbest model artifacts",
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
	})
	if err != nil {
		return nil, s.apiErr(fmt.Sprintf("cannot open object store %s", s.cfg.ModelBucket), err)
	}
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.cfg.RegistryBucket,
		Description: "nextbest model registry: version claims and the promoted version",
		History:     16, // the promoted key's recent history, for an operator
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
	})
	if err != nil {
		return nil, s.apiErr(fmt.Sprintf("cannot open key-value bucket %s", s.cfg.RegistryBucket), err)
	}
	return &Registry{s: s, obj: obj, kv: kv}, nil
}

func versionKey(v int) string     { return "v." + strconv.Itoa(v) }
func objectName(v int) string     { return fmt.Sprintf("v%06d.nbm", v) }
func (r *Registry) where() string { return r.s.cfg.ModelBucket + " at " + r.s.url }

// versions returns the claimed versions, ascending.
func (r *Registry) versions(ctx context.Context) ([]int, error) {
	kl, err := r.kv.ListKeysFiltered(ctx, "v.>")
	if err != nil {
		return nil, r.s.apiErr(fmt.Sprintf("cannot list the versions in %s", r.s.cfg.RegistryBucket), err)
	}
	defer kl.Stop()
	var vs []int
	for k := range kl.Keys() {
		if v, err := strconv.Atoi(strings.TrimPrefix(k, "v.")); err == nil && v > 0 {
			vs = append(vs, v)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, r.s.apiErr(fmt.Sprintf("cannot list the versions in %s", r.s.cfg.RegistryBucket), err)
	}
	slices.Sort(vs)
	return slices.Compact(vs), nil
}

// Save stores art as the next version and returns it; art.Meta.Version is
// set to it. The version is claimed first, atomically (a KV Create of
// v.<n>, the next n on a conflict), so concurrent Saves, in any process,
// never share one; then the artifact is stored as object v<n>.nbm, then
// its metadata in v.<n>. A Save that fails after its claim leaves the
// version unused (List shows it with Err set); numbers are never reused.
func (r *Registry) Save(art *models.Artifact) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	vs, err := r.versions(ctx)
	if err != nil {
		return 0, err
	}
	v := 1
	if len(vs) > 0 {
		v = vs[len(vs)-1] + 1
	}
	var rev uint64 // of the claim
	for range maxSaveTries {
		rev, err = r.kv.Create(ctx, versionKey(v), nil)
		if errors.Is(err, jetstream.ErrKeyExists) {
			v++ // another Save took v
			continue
		}
		if err != nil {
			return 0, r.s.apiErr(fmt.Sprintf("cannot claim model version %d", v), err)
		}
		break
	}
	if rev == 0 {
		return 0, fmt.Errorf("stream: cannot save model: no free version after %d tries", maxSaveTries)
	}
	art.Meta.Version = v
	var buf bytes.Buffer
	if _, err := art.WriteTo(&buf); err != nil {
		return 0, fmt.Errorf("cannot encode model version %d: %w", v, err)
	}
	info, err := r.obj.PutBytes(ctx, objectName(v), buf.Bytes())
	if err != nil {
		return 0, r.s.apiErr(fmt.Sprintf("cannot store model version %d in %s", v, r.s.cfg.ModelBucket), err)
	}
	val, err := json.Marshal(versionEntry{Object: info.Name, Size: int64(info.Size), Meta: art.Meta})
	if err != nil {
		return 0, fmt.Errorf("cannot encode the metadata of model version %d: %w", v, err)
	}
	if _, err := r.kv.Update(ctx, versionKey(v), val, rev); err != nil {
		return 0, r.s.apiErr(fmt.Sprintf("cannot record model version %d", v), err)
	}
	return v, nil
}

// Get reads and verifies version v (the object store's SHA-256 digest,
// then the artifact's own checksum). A version not stored is an error
// wrapping models.ErrNoVersion.
func (r *Registry) Get(v int) (*models.Artifact, error) {
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	return r.get(ctx, v)
}

func (r *Registry) get(ctx context.Context, v int) (*models.Artifact, error) {
	if v < 1 {
		return nil, fmt.Errorf("%w: %d in %s", models.ErrNoVersion, v, r.where())
	}
	b, err := r.obj.GetBytes(ctx, objectName(v))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %d in %s", models.ErrNoVersion, v, r.where())
	}
	if errors.Is(err, jetstream.ErrDigestMismatch) {
		return nil, fmt.Errorf("%w: object %s in %s: %w", models.ErrArtifact, objectName(v), r.where(), err)
	}
	if err != nil {
		return nil, r.s.apiErr(fmt.Sprintf("cannot read model version %d", v), err)
	}
	a, err := models.ReadArtifact(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("object %s in %s: %w", objectName(v), r.where(), err)
	}
	if a.Meta.Version != v {
		return nil, fmt.Errorf("%w: object of version %d says version %d", models.ErrArtifact, v, a.Meta.Version)
	}
	return a, nil
}

// List returns every claimed version, ascending. Unlike models.Registry,
// it does not download each artifact: Meta comes from the metadata Save
// recorded with the version, Size from the object store. Err is set for a
// version whose save did not finish (no metadata or no object); Get
// verifies an artifact itself.
func (r *Registry) List() ([]models.Entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	vs, err := r.versions(ctx)
	if err != nil {
		return nil, err
	}
	prom, err := r.promoted(ctx)
	if err != nil && !errors.Is(err, models.ErrNoVersion) {
		return nil, err
	}
	objs, err := r.obj.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, r.s.apiErr(fmt.Sprintf("cannot list object store %s", r.s.cfg.ModelBucket), err)
	}
	sizes := make(map[string]int64, len(objs))
	for _, o := range objs {
		sizes[o.Name] = int64(o.Size)
	}
	out := make([]models.Entry, 0, len(vs))
	for _, v := range vs {
		name := objectName(v)
		e := models.Entry{Version: v, Path: r.s.cfg.ModelBucket + "/" + name, Promoted: v == prom}
		size, stored := sizes[name]
		e.Size = size
		kve, err := r.kv.Get(ctx, versionKey(v))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			e.Err = fmt.Errorf("%w: version %d was removed from %s", models.ErrNoVersion, v, r.s.cfg.RegistryBucket)
		case err != nil:
			return nil, r.s.apiErr(fmt.Sprintf("cannot read model version %d", v), err)
		case len(kve.Value()) == 0:
			e.Err = fmt.Errorf("%w: version %d is claimed but its save has not finished (or failed)", models.ErrNoVersion, v)
		case !stored:
			e.Err = fmt.Errorf("%w: version %d has no object %s", models.ErrNoVersion, v, name)
		default:
			var ve versionEntry
			if err := json.Unmarshal(kve.Value(), &ve); err != nil {
				e.Err = fmt.Errorf("%w: metadata of version %d: %v", models.ErrArtifact, v, err)
			} else {
				e.Meta = ve.Meta
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Promote makes version v the one serve loads: it reads and verifies the
// artifact, then puts v under the promoted key. A version not stored is
// refused with an error wrapping models.ErrNoVersion.
func (r *Registry) Promote(v int) error {
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	if _, err := r.get(ctx, v); err != nil {
		return fmt.Errorf("cannot promote version %d: %w", v, err)
	}
	if _, err := r.kv.Put(ctx, PromotedKey, []byte(strconv.Itoa(v))); err != nil {
		return r.s.apiErr(fmt.Sprintf("cannot promote version %d", v), err)
	}
	return nil
}

// PromotedVersion returns the promoted version, or an error wrapping
// models.ErrNoVersion when none is. It reads one key: cheap enough to
// poll, though Watch is the way to follow promotions.
func (r *Registry) PromotedVersion() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	return r.promoted(ctx)
}

func (r *Registry) promoted(ctx context.Context) (int, error) {
	e, err := r.kv.Get(ctx, PromotedKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, fmt.Errorf("%w: nothing promoted in %s", models.ErrNoVersion, r.where())
	}
	if err != nil {
		return 0, r.s.apiErr("cannot read the promoted version", err)
	}
	return parsePromoted(e.Value())
}

func parsePromoted(b []byte) (int, error) {
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: key %q holds %q", models.ErrArtifact, PromotedKey, b)
	}
	return v, nil
}

// Watch calls fn with the promoted version when it starts (if one is)
// and on every promotion after, until ctx ends; it returns ctx.Err(), or
// ErrClosed once the Stream is closed. Promotions reach it within
// milliseconds (a KV watch, pushed by the server). After a reconnect it
// watches anew and calls fn with the version promoted then, so a
// promotion made while it was disconnected is not missed; fn must
// therefore accept a version it has already seen. fn runs on Watch's
// goroutine: a slow fn delays the next call, never drops it.
func (r *Registry) Watch(ctx context.Context, fn func(version int)) error {
	status := r.s.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer r.s.nc.RemoveStatusListener(status)
	wait := minRetryWait
	for {
		if r.s.isClosed() {
			return ErrClosed
		}
		wctx, cancel := context.WithCancel(ctx)
		w, err := r.kv.Watch(wctx, PromotedKey)
		if err == nil {
			wait = minRetryWait
			err = r.follow(wctx, w, status, fn)
			w.Stop()
		}
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case r.s.isClosed():
			return ErrClosed
		case err != nil:
			r.s.log.Warn("stream: watching the promoted model failed; retrying", "bucket", r.s.cfg.RegistryBucket, "err", err, "retry_in", wait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, maxRetryWait)
		}
	}
}

// follow hands w's promotions to fn until ctx ends, the connection
// reconnects (nil: watch anew) or closes, or w ends.
func (r *Registry) follow(ctx context.Context, w jetstream.KeyWatcher, status <-chan nats.Status, fn func(int)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case st := <-status:
			if st == nats.CLOSED {
				return ErrClosed
			}
			return nil // reconnected: the server may have lost the watch's consumer
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("stream: key watcher stopped")
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue // nil marks the end of the initial values
			}
			v, err := parsePromoted(e.Value())
			if err != nil {
				r.s.log.Error("stream: ignoring a bad promoted version", "bucket", r.s.cfg.RegistryBucket, "err", err)
				continue
			}
			fn(v)
		}
	}
}
