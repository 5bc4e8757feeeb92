package models

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Event is one step in the life of a registry's models: a promotion, a
// rollback, a refusal, or a step of the retraining loop (trained, gated,
// shadowed, canaried). Every change of the promoted version is recorded
// with who made it and why, so that "which model served when, and why" is
// answered from the registry itself (nextbest models history, GET
// /v1/models).
type Event struct {
	Time time.Time `json:"ts"`
	// Kind says what happened (the Event* constants; the loop adds its
	// own steps).
	Kind string `json:"kind"`
	// Version is the model concerned; From the version promoted before a
	// promotion or rollback (0: the online model).
	Version int `json:"version,omitempty"`
	From    int `json:"from,omitempty"`
	// By says who: "cli", "admin", "loop".
	By string `json:"by,omitempty"`
	// Reason says why, in words; Figures the numbers behind it.
	Reason  string             `json:"reason,omitempty"`
	Figures map[string]float64 `json:"figures,omitempty"`
}

// Kinds of Event the registry's own operations record.
const (
	EventPromoted   = "promoted"
	EventRolledBack = "rolled_back"
	EventRefused    = "refused"
)

// HistoryFile is the name of a registry directory's history: one JSON
// Event per line, appended and fsynced.
const HistoryFile = "HISTORY"

// Record appends e to the registry's history (Time set to now if zero).
func (r *Registry) Record(e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(r.dir, HistoryFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("cannot record in the model registry's history: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// History returns the registry's events, oldest first. A line that does
// not decode (a torn last line after a crash) is skipped.
func (r *Registry) History() ([]Event, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, HistoryFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the model registry's history: %w", err)
	}
	var out []Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// Promotable is a registry the promotion rules work on: a directory
// (Registry) or the cluster's (cluster/stream.Registry).
type Promotable interface {
	Get(v int) (*Artifact, error)
	Promote(v int) error
	PromotedVersion() (int, error)
	Record(Event) error
	History() ([]Event, error)
}

// PromoteChecked promotes version v of reg after check accepts its
// artifact (what a serving instance would validate: decide.ServableModel),
// and records the promotion, or the refusal, with by and reason. It
// returns the version promoted before (0: none).
func PromoteChecked(reg Promotable, v int, check func(*Artifact) error, by, reason string) (from int, err error) {
	from, err = reg.PromotedVersion()
	if errors.Is(err, ErrNoVersion) {
		from, err = 0, nil
	}
	if err != nil {
		return 0, err
	}
	art, err := reg.Get(v)
	if err == nil && check != nil {
		err = check(art)
	}
	if err != nil {
		rerr := reg.Record(Event{Kind: EventRefused, Version: v, From: from, By: by, Reason: err.Error()})
		return from, errors.Join(fmt.Errorf("version %d cannot serve: %w", v, err), rerr)
	}
	if err := reg.Promote(v); err != nil {
		return from, err
	}
	return from, reg.Record(Event{Kind: EventPromoted, Version: v, From: from, By: by, Reason: reason})
}

// Rollback promotes again the version that was promoted before the
// current one (the From of the last promotion of the current version; a
// rollback does not count, so rolling back twice goes further back, not
// forth), after check accepts it, and records it. With
// to > 0 it rolls back to that version instead. It returns the version
// now promoted.
func Rollback(reg Promotable, to int, check func(*Artifact) error, by, reason string) (int, error) {
	cur, err := reg.PromotedVersion()
	if errors.Is(err, ErrNoVersion) {
		cur, err = 0, nil
	}
	if err != nil {
		return 0, err
	}
	if to == 0 {
		hist, err := reg.History()
		if err != nil {
			return 0, err
		}
		found := false
		for i := len(hist) - 1; i >= 0; i-- {
			e := hist[i]
			if e.Kind == EventPromoted && e.Version == cur {
				to, found = e.From, true
				break
			}
		}
		if !found || to == 0 {
			return 0, fmt.Errorf("no earlier promoted version to roll back to from version %d (give one)", cur)
		}
	}
	if to == cur {
		return 0, fmt.Errorf("version %d is the promoted one already", to)
	}
	art, err := reg.Get(to)
	if err == nil && check != nil {
		err = check(art)
	}
	if err != nil {
		return 0, fmt.Errorf("cannot roll back to version %d: %w", to, err)
	}
	if err := reg.Promote(to); err != nil {
		return 0, err
	}
	return to, reg.Record(Event{Kind: EventRolledBack, Version: to, From: cur, By: by, Reason: reason})
}
