package online

import (
	"crypto/sha256"
	bin "encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"nextbest/decide"
	"nextbest/models"
	"nextbest/personalizer"
)

// The online model's snapshot file (DATA/model/online.state), version 2:
//
//	offset size
//	0      4    magic "NBOL"
//	4      4    version, 2
//	8      8    LSN: the last journal record the model holds
//	16     32   SHA-256 of the catalog's action ids in order, each
//	            followed by a NUL byte
//	48     4    CRC-32C of bytes 0..47
//	52     …    the model, as models.Ridge.WriteTo writes it
//
// integers little-endian. A reader refuses any other version: a change
// of layout takes a new version number.
const (
	snapshotVersion    = 2
	snapshotHeaderSize = 4 + 4 + 8 + 32 + 4
)

// snapshotMagic starts an online-model snapshot file.
var snapshotMagic = [4]byte{'N', 'B', 'O', 'L'}

// Snapshot writes the model and the LSN of the last record Run has taken
// into it (published or not) to SnapshotPath, atomically: a temp file,
// fsync, rename, fsync of the directory. Without a SnapshotPath it does
// nothing. It reads the model as its writer does: call it after Run
// returned (Run snapshots every SnapshotEvery on its own goroutine).
func (l *Learner) Snapshot() error {
	if l.cfg.SnapshotPath == "" {
		return nil
	}
	if err := writeSnapshot(l.cfg.SnapshotPath, l.model, l.processed, catalogHash(l.cfg.Catalog)); err != nil {
		return err
	}
	l.snapshotted.Store(l.processed)
	return nil
}

// writeSnapshot writes m and lsn to path under key (what the model was
// built for: the catalog's hash, or the featurization's).
func writeSnapshot(path string, m *models.Ridge, lsn uint64, key [32]byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("cannot write model snapshot: %w", err)
	}
	hdr := snapshotHeader(lsn, key)
	if _, err = f.Write(hdr[:]); err == nil {
		_, err = m.WriteTo(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write model snapshot %q: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write model snapshot: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func snapshotHeader(lsn uint64, cat [32]byte) [snapshotHeaderSize]byte {
	var h [snapshotHeaderSize]byte
	copy(h[:4], snapshotMagic[:])
	bin.LittleEndian.PutUint32(h[4:], snapshotVersion)
	bin.LittleEndian.PutUint64(h[8:], lsn)
	copy(h[16:48], cat[:])
	bin.LittleEndian.PutUint32(h[48:], crc32.Checksum(h[:48], crc32.MakeTable(crc32.Castagnoli)))
	return h
}

// catalogHash is the SHA-256 of the catalog's action ids in order.
func catalogHash(c *decide.Catalog) [32]byte {
	h := sha256.New()
	for _, a := range c.Actions {
		h.Write([]byte(a.ID))
		h.Write([]byte{0})
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// LoadSnapshot reads a snapshot that Learner.Snapshot wrote to path: the
// model (published) and the LSN it reflects, Config.From for the
// learner that goes on from it. Its errors: one wrapping os.ErrNotExist
// when there is none; ErrSnapshotCatalog, with the model, when the
// catalog's actions changed since (a per-action model must not be read
// against a reordered catalog); ErrSnapshotOverflow, with the model, when
// its statistics are out of range; ErrBadSnapshot when it does not
// decode. After any of them the model is rebuilt from the journal.
func LoadSnapshot(path string, cat *decide.Catalog) (*models.Ridge, uint64, error) {
	m, lsn, err := readSnapshot(path, catalogHash(cat))
	if errors.Is(err, errSnapshotKey) {
		return m, 0, ErrSnapshotCatalog
	}
	return m, lsn, err
}

// errSnapshotKey is readSnapshot's error for a snapshot written under
// another key.
var errSnapshotKey = errors.New("online: the snapshot was written for another catalog or featurization")

// readSnapshot reads a snapshot written under key (writeSnapshot), with
// LoadSnapshot's errors but errSnapshotKey for another key.
func readSnapshot(path string, key [32]byte) (*models.Ridge, uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var hdr [snapshotHeaderSize]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return nil, 0, fmt.Errorf("%w: %q: %w", ErrBadSnapshot, path, err)
	}
	if [4]byte(hdr[:4]) != snapshotMagic || bin.LittleEndian.Uint32(hdr[4:]) != snapshotVersion ||
		bin.LittleEndian.Uint32(hdr[48:]) != crc32.Checksum(hdr[:48], crc32.MakeTable(crc32.Castagnoli)) {
		return nil, 0, fmt.Errorf("%w: %q: bad header", ErrBadSnapshot, path)
	}
	m, err := models.ReadRidge(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %q: %w", ErrBadSnapshot, path, err)
	}
	if [32]byte(hdr[16:48]) != key {
		return m, 0, errSnapshotKey
	}
	if err := m.CheckStats(); err != nil {
		return m, 0, fmt.Errorf("%w: %w", ErrSnapshotOverflow, err)
	}
	return m, bin.LittleEndian.Uint64(hdr[8:]), nil
}

// readEmptySnapshot reads the header-only snapshot at path.
func readEmptySnapshot(path string, key [32]byte) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if len(b) != snapshotHeaderSize || [4]byte(b[:4]) != snapshotMagic || bin.LittleEndian.Uint32(b[4:]) != snapshotVersion ||
		bin.LittleEndian.Uint32(b[48:]) != crc32.Checksum(b[:48], crc32.MakeTable(crc32.Castagnoli)) {
		return 0, fmt.Errorf("%w: %q: bad header", ErrBadSnapshot, path)
	}
	if [32]byte(b[16:48]) != key {
		return 0, ErrSnapshotFeaturization
	}
	return bin.LittleEndian.Uint64(b[8:]), nil
}

// Snapshot writes the Personalizer model and the LSN of the last record
// taken into it to SnapshotPath, as Learner.Snapshot does (the same file
// format, keyed by the featurization instead of the catalog). Call it
// after Run returned (Run snapshots every SnapshotEvery itself).
//
// A model that has learned nothing (the namespace unused) is written as
// the header alone: the prior at the LSN, without its 2^bits-square
// statistics (2 MiB at the default 9 bits), so an instance that never
// serves Personalizer calls keeps no such file's worth on its disk.
func (p *Personalizer) Snapshot() error {
	if p.cfg.SnapshotPath == "" {
		return nil
	}
	if !p.touched {
		if err := writeEmptySnapshot(p.cfg.SnapshotPath, p.processed, featurizationKey(p.bits)); err != nil {
			return err
		}
	} else if err := writeSnapshot(p.cfg.SnapshotPath, p.model, p.processed, featurizationKey(p.bits)); err != nil {
		return err
	}
	p.snapshotted.Store(p.processed)
	return nil
}

// writeEmptySnapshot writes a snapshot of the prior at lsn: the header
// alone (LoadPersonalizerSnapshot reads it as a nil model at lsn).
func writeEmptySnapshot(path string, lsn uint64, key [32]byte) error {
	tmp := path + ".tmp"
	hdr := snapshotHeader(lsn, key)
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("cannot write model snapshot: %w", err)
	}
	_, err = f.Write(hdr[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write model snapshot %q: %w", path, err)
	}
	return nil
}

// featurizationKey names what a Personalizer model's rows are: package
// personalizer's featurization (its version) at 2^bits dimensions.
func featurizationKey(bits int) [32]byte {
	return sha256.Sum256(fmt.Appendf(nil, "nextbest personalizer featurization v%d bits=%d", personalizer.FeaturizationVersion, bits))
}

// LoadPersonalizerSnapshot reads a snapshot that Personalizer.Snapshot
// wrote to path for a model of 2^bits dimensions: the model and the LSN
// it reflects (PersonalizerConfig's Model and From). Its errors:
// os.ErrNotExist when there is none; ErrSnapshotFeaturization when it was
// written for another dimension or featurization; ErrSnapshotOverflow and
// ErrBadSnapshot as LoadSnapshot's. After any of them the model is
// rebuilt from the journal.
//
// A snapshot of a model that had learned nothing (the header alone) reads
// as a nil model at its LSN: start from the prior there.
func LoadPersonalizerSnapshot(path string, bits int) (*models.Ridge, uint64, error) {
	if st, err := os.Stat(path); err == nil && st.Size() == snapshotHeaderSize {
		lsn, err := readEmptySnapshot(path, featurizationKey(bits))
		return nil, lsn, err
	}
	m, lsn, err := readSnapshot(path, featurizationKey(bits))
	if errors.Is(err, errSnapshotKey) {
		return nil, 0, ErrSnapshotFeaturization
	}
	return m, lsn, err
}
