package models

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNoVersion is returned by Registry.Get and Promote for a version the
// registry does not hold, and by Promoted when nothing is promoted.
var ErrNoVersion = errors.New("models: no such model version")

// Registry is a directory of model artifacts, one file per version
// (v000001.nbm, v000002.nbm, ...), and a PROMOTED file naming the version
// serve should load. Versions are assigned by Save, increase, and are
// never reused or rewritten. Several processes may use one registry: Save
// claims a version with an exclusive hard link, Promote replaces PROMOTED
// atomically, and readers never see a partial file.
type Registry struct {
	dir string
}

// PromotedFile is the name of the pointer file in a registry directory. It
// holds the promoted version as decimal text and a newline.
const PromotedFile = "PROMOTED"

// OpenRegistry opens (creating if needed) the registry in dir.
func OpenRegistry(dir string) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create model registry %q: %w", dir, err)
	}
	return &Registry{dir: dir}, nil
}

// Dir returns the registry directory.
func (r *Registry) Dir() string { return r.dir }

func (r *Registry) path(v int) string { return filepath.Join(r.dir, fmt.Sprintf("v%06d.nbm", v)) }

// versions returns the versions present, ascending.
func (r *Registry) versions() ([]int, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list model registry %q: %w", r.dir, err)
	}
	var vs []int
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "v") || !strings.HasSuffix(n, ".nbm") {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSuffix(n[1:], ".nbm"))
		if err == nil && v > 0 {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	return vs, nil
}

// Save stores art as the next version and returns it; art.Meta.Version is
// set to it. The file is written to a temporary name, fsynced, and linked
// to its version name only if that name is free (so two concurrent Saves
// never overwrite each other), then the directory is fsynced.
func (r *Registry) Save(art *Artifact) (int, error) {
	vs, err := r.versions()
	if err != nil {
		return 0, err
	}
	v := 1
	if len(vs) > 0 {
		v = vs[len(vs)-1] + 1
	}
	for tries := 0; tries < 100; tries, v = tries+1, v+1 {
		art.Meta.Version = v
		var buf bytes.Buffer
		if _, err := art.WriteTo(&buf); err != nil {
			return 0, err
		}
		tmp, err := writeTemp(r.dir, buf.Bytes())
		if err != nil {
			return 0, err
		}
		err = os.Link(tmp, r.path(v))
		os.Remove(tmp)
		if errors.Is(err, os.ErrExist) {
			continue // another Save took v
		}
		if err != nil {
			return 0, fmt.Errorf("cannot save model version %d: %w", v, err)
		}
		return v, syncDir(r.dir)
	}
	return 0, fmt.Errorf("cannot save model: no free version after %d tries", 100)
}

// Entry is one version in a registry listing.
type Entry struct {
	Version  int
	Path     string
	Size     int64
	Promoted bool
	// Meta is the artifact's metadata; Err is set instead when the file
	// does not verify (corrupt, truncated).
	Meta Metadata
	Err  error
}

// List returns every version, ascending, with its metadata. Each artifact
// is read and verified; a corrupt one is listed with Err set.
func (r *Registry) List() ([]Entry, error) {
	vs, err := r.versions()
	if err != nil {
		return nil, err
	}
	prom, err := r.PromotedVersion()
	if err != nil && !errors.Is(err, ErrNoVersion) {
		return nil, err
	}
	out := make([]Entry, 0, len(vs))
	for _, v := range vs {
		e := Entry{Version: v, Path: r.path(v), Promoted: v == prom}
		if fi, err := os.Stat(e.Path); err == nil {
			e.Size = fi.Size()
		}
		if a, err := ReadArtifactFile(e.Path); err != nil {
			e.Err = err
		} else {
			e.Meta = a.Meta
		}
		out = append(out, e)
	}
	return out, nil
}

// Get reads and verifies version v.
func (r *Registry) Get(v int) (*Artifact, error) {
	a, err := ReadArtifactFile(r.path(v))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %d in %s", ErrNoVersion, v, r.dir)
	}
	if err != nil {
		return nil, err
	}
	if a.Meta.Version != v {
		return nil, fmt.Errorf("%w: file of version %d says version %d", ErrArtifact, v, a.Meta.Version)
	}
	return a, nil
}

// Promote makes version v the one serve loads. It verifies the artifact
// first, then replaces PROMOTED atomically: write a temporary file, fsync
// it, rename it over PROMOTED, fsync the directory. A reader sees the old
// or the new version, never a partial file.
func (r *Registry) Promote(v int) error {
	if _, err := r.Get(v); err != nil {
		return fmt.Errorf("cannot promote version %d: %w", v, err)
	}
	tmp, err := writeTemp(r.dir, []byte(strconv.Itoa(v)+"\n"))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(r.dir, PromotedFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot promote version %d: %w", v, err)
	}
	return syncDir(r.dir)
}

// PromotedVersion returns the promoted version, or ErrNoVersion when none
// is. It reads one small file, so it is cheap enough to poll.
func (r *Registry) PromotedVersion() (int, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, PromotedFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%w: nothing promoted in %s", ErrNoVersion, r.dir)
	}
	if err != nil {
		return 0, fmt.Errorf("cannot read %s: %w", PromotedFile, err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: %s in %s holds %q", ErrArtifact, PromotedFile, r.dir, b)
	}
	return v, nil
}

// Promoted reads and verifies the promoted artifact.
func (r *Registry) Promoted() (*Artifact, error) {
	v, err := r.PromotedVersion()
	if err != nil {
		return nil, err
	}
	return r.Get(v)
}

// writeTemp writes data to a new temporary file in dir and fsyncs it.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("cannot write to model registry: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("cannot write to model registry: %w", err)
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync %s: %w", dir, err)
	}
	return nil
}
