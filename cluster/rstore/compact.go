package rstore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Compact makes Redis's files forget deleted keys (state.Compactor, for
// an erasure): with the append-only file on, it rewrites it
// (BGREWRITEAOF: the new base holds only what is in memory, and the old
// files are deleted); with RDB snapshots configured, it writes a new
// snapshot (BGSAVE) over the old one. It waits for both to finish, at
// most a minute.
func (s *Store) Compact() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := func(name string) (string, error) {
		m, err := s.c.Do(ctx, s.c.B().ConfigGet().Parameter(name).Build()).AsStrMap()
		if err != nil {
			return "", unavailable(err)
		}
		return m[name], nil
	}
	aof, err := cfg("appendonly")
	if err != nil {
		return fmt.Errorf("cannot read redis's persistence settings: %w", err)
	}
	save, err := cfg("save")
	if err != nil {
		return fmt.Errorf("cannot read redis's persistence settings: %w", err)
	}
	if aof == "yes" {
		if err := s.background(ctx, "BGREWRITEAOF", "aof_rewrite_in_progress", "aof_rewrite_scheduled"); err != nil {
			return err
		}
	}
	if strings.TrimSpace(save) != "" {
		if err := s.background(ctx, "BGSAVE", "rdb_bgsave_in_progress"); err != nil {
			return err
		}
	}
	return nil
}

// Sync makes what Redis holds durable now (state.Syncer), whatever its
// fsync policy: it rewrites the append-only file (its new base is the
// whole dataset, fsynced) or, without one, saves a snapshot; waited for,
// at most a minute. The eraser calls it before the stream forgets an
// erased customer.
func (s *Store) Sync() error { return s.Compact() }

// background starts a background persistence command and waits until
// INFO persistence shows every flag 0 (a rewrite already running is
// waited for, then started again: it may predate the deletions).
func (s *Store) background(ctx context.Context, cmd string, flags ...string) error {
	busy := func() (bool, error) {
		info, err := s.c.Do(ctx, s.c.B().Info().Section("persistence").Build()).ToString()
		if err != nil {
			return false, unavailable(err)
		}
		for _, line := range strings.Split(info, "\n") {
			for _, f := range flags {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), f+":"); ok && v != "0" {
					return true, nil
				}
			}
		}
		return false, nil
	}
	wait := func() error {
		for {
			b, err := busy()
			if err != nil || !b {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("redis %s did not finish: %w", cmd, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	if err := wait(); err != nil {
		return err
	}
	if err := s.c.Do(ctx, s.c.B().Arbitrary(cmd).Build()).Error(); err != nil {
		return fmt.Errorf("redis %s: %w", cmd, unavailable(err))
	}
	return wait()
}
