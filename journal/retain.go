package journal

import (
	"fmt"
	"os"
	"time"
)

// RetainConfig says which segments Retain deletes. Only whole sealed
// segments go (never the one being appended to), oldest first, and only
// a prefix: the journal stays contiguous from its first kept LSN.
type RetainConfig struct {
	// MaxAge deletes a sealed segment whose last write (its file's
	// modification time, when its last record was made durable) is older
	// than this; 0: no age limit.
	MaxAge time.Duration
	// MaxBytes deletes the oldest sealed segments while the journal's
	// files take more than this; 0: no size limit.
	MaxBytes int64
	// Keep is the lowest LSN still needed (by the state store's recovery,
	// the model snapshot's replay, the training and evaluation windows): a
	// segment holding it, or any later LSN, is kept whatever its age or
	// size. 0 keeps everything.
	Keep uint64
	// Now is the time ages are measured at (default time.Now()).
	Now time.Time
}

// RetainResult is what Retain deleted.
type RetainResult struct {
	Segments int   `json:"segments"`
	Bytes    int64 `json:"bytes"`
	// FirstLSN is the journal's first LSN after it (the first kept
	// segment's).
	FirstLSN uint64 `json:"first_lsn"`
}

// Retain deletes the sealed segments the retention policy c no longer
// keeps, and returns what it deleted. A reader in another process that
// has a deleted segment open keeps reading it (the file lives until it is
// closed); one that lists the segments afterwards starts at FirstLSN.
// Records before FirstLSN are gone: a state store or model snapshot
// older than it cannot be rebuilt from the journal, which is why c.Keep
// must name the lowest LSN they still need.
func (j *Journal[L]) Retain(c RetainConfig) (RetainResult, error) {
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	j.maintMu.Lock()
	defer j.maintMu.Unlock()
	j.segMu.Lock()
	defer j.segMu.Unlock()
	segs := j.segs
	var res RetainResult
	if len(segs) == 0 {
		return res, nil
	}
	res.FirstLSN = segs[0].first
	sizes := make([]int64, len(segs))
	mtimes := make([]time.Time, len(segs))
	var total int64
	for i, s := range segs {
		st, err := os.Stat(s.path)
		if err != nil {
			return res, fmt.Errorf("journal: retention: %w", err)
		}
		sizes[i], mtimes[i] = st.Size(), st.ModTime()
		total += st.Size()
	}
	drop := 0
	for i := range len(segs) - 1 { // the last segment is being appended to
		last := segs[i+1].first - 1
		if c.Keep == 0 || last >= c.Keep {
			break
		}
		old := c.MaxAge > 0 && c.Now.Sub(mtimes[i]) > c.MaxAge
		big := c.MaxBytes > 0 && total > c.MaxBytes
		if !old && !big {
			break
		}
		total -= sizes[i]
		drop = i + 1
	}
	for i := range drop {
		if err := os.Remove(segs[i].path); err != nil {
			// what is gone is gone: keep the list true to the directory
			j.segs = segs[i:]
			res.FirstLSN = segs[i].first
			return res, fmt.Errorf("journal: retention: cannot delete %s: %w", segs[i].path, err)
		}
		res.Segments++
		res.Bytes += sizes[i]
	}
	if drop == 0 {
		return res, nil
	}
	j.segs = segs[drop:]
	res.FirstLSN = segs[drop].first
	if !j.cfg.NoSync {
		if err := syncDir(j.cfg.Dir); err != nil {
			return res, fmt.Errorf("journal: retention: %w", err)
		}
	}
	j.log.Info("journal: retention deleted old segments", "segments", res.Segments, "bytes", res.Bytes, "first_lsn_kept", res.FirstLSN)
	return res, nil
}
