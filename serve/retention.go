package serve

import (
	"fmt"
	"time"

	"nextbest/journal"
)

// JournalRetention is Config.JournalRetention.
type JournalRetention struct {
	// MaxAge deletes segments whose last record is older; at least the
	// decision retention. Mind the retraining loop's windows (train +
	// evaluation window, 8 days by default): what is deleted cannot be
	// trained or evaluated on, nor exported.
	MaxAge time.Duration
	// MaxBytes deletes the oldest segments while the journal is larger.
	MaxBytes int64
}

// RetainJournal applies the journal retention now (the service does it
// every hour) and returns what it deleted. It never deletes a record the
// state store or the model snapshot still needs: everything after the
// lower of the applied LSN and the snapshot's LSN stays. Ages are of the
// segment files (wall-clock time, not Config.Now). A deletion is recorded
// in the audit trail.
func (s *Service) RetainJournal() (journal.RetainResult, error) {
	if s.jrnl == nil {
		return journal.RetainResult{}, nil
	}
	keep := min(s.applier.Applied(), s.learner.SnapshotLSN(), s.pzLearner.SnapshotLSN()) + 1
	r := s.cfg.JournalRetention
	res, err := s.jrnl.Retain(journal.RetainConfig{MaxAge: r.MaxAge, MaxBytes: r.MaxBytes, Keep: keep})
	if res.Segments > 0 {
		s.audit("retention", "journal_retention", fmt.Sprintf("%d segments, %d bytes deleted; the journal starts at LSN %d", res.Segments, res.Bytes, res.FirstLSN))
	}
	return res, err
}
