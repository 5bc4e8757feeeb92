package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Artifact errors.
var (
	// ErrArtifact is returned by ReadArtifact for a file that is not a
	// whole, intact model artifact: bad magic, unknown format version,
	// truncated, or a SHA-256 mismatch. The message says which.
	ErrArtifact = errors.New("models: bad model artifact")
	// ErrSpecMismatch is returned by LoadScorer when the artifact was
	// trained on another feature spec than the one serving.
	ErrSpecMismatch = errors.New("models: artifact feature spec mismatch")
	// ErrActionMismatch is returned by LoadScorer when a per-action model
	// cannot score a catalog action.
	ErrActionMismatch = errors.New("models: artifact actions do not cover the catalog")
)

// Model types in Metadata.Type.
const (
	TypeRidge    = "ridge"
	TypeLogistic = "logistic"
	TypeMLP      = "mlp"
)

// Metadata describes an artifact's model: what it is, what it was trained
// on and how well it did. It is stored as JSON in the artifact.
type Metadata struct {
	// Type is TypeRidge, TypeLogistic or TypeMLP: how to read the payload.
	Type string `json:"type"`
	// Name is the policy name the model serves under, e.g. "linucb".
	Name string `json:"name"`
	// Version is the registry version, set by Registry.Save (0 before).
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// FeatureSpec is the hash (features.Spec.Hash) of the spec that built
	// the training vectors; NewArtifact refuses anything that is not such
	// a hash and LoadScorer refuses any other spec.
	FeatureSpec string `json:"feature_spec"`
	Dim         int    `json:"dim"`
	// ActionIDs names the posteriors of a per-action model, in order; nil
	// for a shared model.
	ActionIDs []string `json:"action_ids,omitempty"`
	// Hyper holds the hyper-parameters (lambda, l2, hidden, seed, ...).
	Hyper map[string]any `json:"hyper,omitempty"`
	// TrainFrom and TrainTo bound the decision times trained on (zero for
	// file sources without times).
	TrainFrom time.Time `json:"train_from,omitzero"`
	TrainTo   time.Time `json:"train_to,omitzero"`
	// Source says where the data came from ("journal DIR", "cb_adf FILE").
	Source string `json:"source"`
	// Examples is the number of training rows.
	Examples int `json:"examples"`
	// Metrics are held-out metrics (log_loss, auc, ece, ...).
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Artifact is a model file: metadata plus the model's own serialisation.
//
// On disk, little-endian:
//
//	magic    [8]byte  "NBMODEL\x00"
//	version  uint32   artifact format version, 1
//	metaLen  uint32   length of the metadata JSON (≤ 16 MiB)
//	meta     [metaLen]byte JSON of Metadata
//	payLen   uint64   length of the payload (≤ 4 GiB)
//	payload  [payLen]byte the model (Ridge.WriteTo, Logistic.WriteTo, MLP.WriteTo)
//	sum      [32]byte SHA-256 of every byte before it (header, metadata, payload)
type Artifact struct {
	Meta    Metadata
	Payload []byte
}

const (
	artifactMagic   = "NBMODEL\x00"
	artifactVersion = 1
	maxMetaLen      = 16 << 20
	maxPayloadLen   = 4 << 30
)

// NewArtifact serialises model (a *Ridge, *Logistic or *MLP) with meta,
// filling in Type and Dim (and Created when zero).
//
// meta.FeatureSpec must be a feature spec hash (features.Spec.Hash: 64
// lowercase hex digits): an artifact is a model the service can score
// with once it serves that spec. A model over any other layout — such as
// the hashed VW-style slots training.Featurizer gives a data file — is
// refused with ErrInvalidInput: no service could ever load it.
func NewArtifact(meta Metadata, model io.WriterTo) (*Artifact, error) {
	if !isSpecHash(meta.FeatureSpec) {
		return nil, fmt.Errorf("%w: feature spec %q is not a feature spec hash: only models trained on a feature spec's vectors can be served", ErrInvalidInput, meta.FeatureSpec)
	}
	switch m := model.(type) {
	case *Ridge:
		meta.Type, meta.Dim = TypeRidge, m.Dim()
	case *Logistic:
		meta.Type, meta.Dim = TypeLogistic, m.Dim()
	case *MLP:
		meta.Type, meta.Dim = TypeMLP, m.Dim()
	default:
		return nil, fmt.Errorf("%w: cannot make an artifact of %T", ErrInvalidInput, model)
	}
	if meta.Created.IsZero() {
		meta.Created = time.Now().UTC()
	}
	var buf bytes.Buffer
	if _, err := model.WriteTo(&buf); err != nil {
		return nil, err
	}
	return &Artifact{Meta: meta, Payload: buf.Bytes()}, nil
}

// isSpecHash reports whether s has the shape of features.Spec.Hash.
func isSpecHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// WriteTo writes the artifact in the format above.
func (a *Artifact) WriteTo(w io.Writer) (int64, error) {
	meta, err := json.Marshal(a.Meta)
	if err != nil {
		return 0, fmt.Errorf("cannot encode artifact metadata: %w", err)
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, 8+4+4+len(meta)+8+len(a.Payload)+32)
	buf = append(buf, artifactMagic...)
	buf = le.AppendUint32(buf, artifactVersion)
	buf = le.AppendUint32(buf, uint32(len(meta)))
	buf = append(buf, meta...)
	buf = le.AppendUint64(buf, uint64(len(a.Payload)))
	buf = append(buf, a.Payload...)
	sum := sha256.Sum256(buf)
	buf = append(buf, sum[:]...)
	n, err := w.Write(buf)
	return int64(n), err
}

// ReadArtifact reads one artifact and verifies it: magic, format version,
// lengths, and the SHA-256. Anything wrong is an error wrapping ErrArtifact
// that says what ("checksum mismatch", "truncated: 100 of 2048 bytes").
// The payload is not decoded until LoadScorer.
func ReadArtifact(r io.Reader) (*Artifact, error) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(r, 8+4+4+maxMetaLen+8+maxPayloadLen+32+1)); err != nil {
		return nil, fmt.Errorf("cannot read model artifact: %w", err)
	}
	return decodeArtifact(b.Bytes())
}

func decodeArtifact(p []byte) (*Artifact, error) {
	le := binary.LittleEndian
	if len(p) < 16 {
		if len(p) >= 8 && string(p[:8]) != artifactMagic || len(p) < 8 && string(p) != artifactMagic[:len(p)] {
			return nil, fmt.Errorf("%w: not a model artifact (bad magic)", ErrArtifact)
		}
		return nil, fmt.Errorf("%w: truncated: %d bytes, header is 16", ErrArtifact, len(p))
	}
	if string(p[:8]) != artifactMagic {
		return nil, fmt.Errorf("%w: not a model artifact (bad magic)", ErrArtifact)
	}
	if v := le.Uint32(p[8:]); v != artifactVersion {
		return nil, fmt.Errorf("%w: format version %d, this build reads %d", ErrArtifact, v, artifactVersion)
	}
	ml := uint64(le.Uint32(p[12:]))
	if ml > maxMetaLen {
		return nil, fmt.Errorf("%w: metadata length %d too large", ErrArtifact, ml)
	}
	if uint64(len(p)) < 16+ml+8 {
		return nil, fmt.Errorf("%w: truncated: %d bytes, metadata alone needs %d", ErrArtifact, len(p), 16+ml+8)
	}
	pl := le.Uint64(p[16+ml:])
	if pl > maxPayloadLen {
		return nil, fmt.Errorf("%w: payload length %d too large", ErrArtifact, pl)
	}
	total := 16 + ml + 8 + pl + 32
	switch {
	case uint64(len(p)) < total:
		return nil, fmt.Errorf("%w: truncated: %d of %d bytes", ErrArtifact, len(p), total)
	case uint64(len(p)) > total:
		return nil, fmt.Errorf("%w: %d bytes of trailing data", ErrArtifact, uint64(len(p))-total)
	}
	sum := sha256.Sum256(p[:total-32])
	if !bytes.Equal(sum[:], p[total-32:]) {
		return nil, fmt.Errorf("%w: SHA-256 checksum mismatch (file corrupt)", ErrArtifact)
	}
	a := &Artifact{}
	if err := json.Unmarshal(p[16:16+ml], &a.Meta); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrArtifact, err)
	}
	a.Payload = append([]byte(nil), p[16+ml+8:total-32]...)
	return a, nil
}

// ReadArtifactFile reads and verifies the artifact at path.
func ReadArtifactFile(path string) (*Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open model artifact: %w", err)
	}
	defer f.Close()
	a, err := ReadArtifact(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Scorer estimates the reward of candidate actions: what every model of
// this package serves as, what LoadScorer returns and what the decision
// engine scores with (decide.Scorer is this interface). Implementations
// must be safe for concurrent use and must not retain the slices they are
// given.
type Scorer interface {
	// Name identifies the model and its version, e.g. "linucb@v3".
	Name() string
	// Dim is the feature dimension the scorer expects.
	Dim() int
	// Predict writes, for candidate i with catalog action index acts[i] and
	// features xs[i*Dim():(i+1)*Dim()], the posterior mean reward and its
	// posterior standard deviation.
	Predict(mean, std []float64, acts []int, xs []float64)
}

// LoadScorer decodes the artifact's model for serving with the feature
// spec whose hash is specHash and the catalog whose action ids, in catalog
// index order, are actionIDs.
//
//   - A spec mismatch is refused with ErrSpecMismatch.
//   - A per-action model is re-indexed so that posterior i is catalog
//     action i, matched by id. Model actions missing from the catalog are
//     dropped. A catalog action the model does not know: a ridge model
//     gives it the prior (θ = 0, A = λI: zero mean, the widest std, so
//     LinUCB and Thompson sampling explore it); a logistic model cannot
//     and is refused with ErrActionMismatch naming the actions.
//   - Shared models (ridge, logistic, MLP) take the catalog as it is.
//
// The returned Scorer's Name is Metadata.Name@vVersion (e.g.
// "linucb@v3") when the artifact has a version.
func LoadScorer(art *Artifact, specHash string, actionIDs []string) (Scorer, error) {
	meta := &art.Meta
	if meta.FeatureSpec != specHash {
		return nil, fmt.Errorf("%w: model v%d was trained with feature spec %.12s, serving %.12s", ErrSpecMismatch, meta.Version, meta.FeatureSpec, specHash)
	}
	name := meta.Name
	if name == "" {
		name = meta.Type
	}
	if meta.Version > 0 {
		name = fmt.Sprintf("%s@v%d", name, meta.Version)
	}
	var from []int
	var missing []string
	if len(meta.ActionIDs) > 0 {
		idx := make(map[string]int, len(meta.ActionIDs))
		for i, id := range meta.ActionIDs {
			idx[id] = i
		}
		from = make([]int, len(actionIDs))
		for i, id := range actionIDs {
			k, ok := idx[id]
			if !ok {
				k = -1
				missing = append(missing, id)
			}
			from[i] = k
		}
	}
	r := bytes.NewReader(art.Payload)
	switch meta.Type {
	case TypeRidge:
		m, err := ReadRidge(r)
		if err != nil {
			return nil, err
		}
		if m.Dim() != meta.Dim || (m.Actions() > 0) != (from != nil) || (from != nil && m.Actions() != len(meta.ActionIDs)) {
			return nil, fmt.Errorf("%w: ridge payload (dim %d, %d actions) disagrees with its metadata", ErrArtifact, m.Dim(), m.Actions())
		}
		if from != nil {
			m = remapRidge(m, from)
		}
		m.cfg.Name = name
		return m, nil
	case TypeLogistic:
		m, err := ReadLogistic(r)
		if err != nil {
			return nil, err
		}
		if m.Dim() != meta.Dim || (m.Actions() > 0) != (from != nil) || (from != nil && m.Actions() != len(meta.ActionIDs)) {
			return nil, fmt.Errorf("%w: logistic payload (dim %d, %d actions) disagrees with its metadata", ErrArtifact, m.Dim(), m.Actions())
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: the logistic model has no weights for catalog actions %q", ErrActionMismatch, missing)
		}
		if from != nil {
			m = remapLogistic(m, from)
		}
		m.cfg.Name = name
		return m, nil
	case TypeMLP:
		m, err := ReadMLP(r)
		if err != nil {
			return nil, err
		}
		if m.Dim() != meta.Dim {
			return nil, fmt.Errorf("%w: mlp payload dim %d disagrees with its metadata", ErrArtifact, m.Dim())
		}
		m.cfg.Name = name
		return m, nil
	}
	return nil, fmt.Errorf("%w: unknown model type %q", ErrArtifact, meta.Type)
}
