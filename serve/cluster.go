package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"nextbest/cluster"
	"nextbest/features"
	"nextbest/state"
)

// openNode connects the cluster path: the state in Redis, the journal on
// JetStream. The handlers read profiles through the client-side cache
// that Redis invalidates; the applier and the index read Redis itself.
func (s *Service) openNode() error {
	cfg := *s.cfg.Cluster
	cfg.Logger = s.log
	cfg.Redis.Indexed = state.ScannedPrefixes
	retention := s.cfg.DecisionRetention
	cfg.Redis.TTL = state.TTL(retention)
	var err error
	if s.node, err = cluster.Open(context.Background(), cfg); err != nil {
		return err
	}
	s.state = s.node.State()
	cached, err := features.NewStore(features.StoreConfig{KV: s.node.Redis().Cached(), Prefix: "p/", NoCache: true, Logger: s.log})
	if err != nil {
		return err
	}
	s.profiles, s.index, s.aggregates = cached, s.state, s.state
	s.pzEvents = s.state
	if s.clusterReg, err = s.node.Stream().Registry(context.Background()); err != nil {
		return err
	}
	return nil
}

// The objects of the cluster's model bucket that hold the latest
// snapshots of the online model and of the Personalizer namespace's,
// shared so that a new instance starts from them rather than from the
// stream's first record.
const (
	sharedSnapshot   = "online-cluster.state"
	sharedPZSnapshot = "personalizer-cluster.state"
)

// fetchSnapshot writes the cluster's shared snapshot blob to path when
// this instance has none of its own (a new instance).
func (s *Service) fetchSnapshot(path, blob string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	b, err := s.clusterReg.GetBlob(blob)
	if err != nil || b == nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("cannot write the cluster's model snapshot to %s: %w", path, err)
	}
	s.log.Info("starting from the cluster's shared model snapshot", "snapshot", blob, "bytes", len(b))
	return nil
}

// shareSnapshots uploads this instance's snapshot file to the cluster's
// model bucket (as blob) each time the learner has written a new one,
// while this instance holds the applier lease (one instance shares at a
// time).
func (s *Service) shareSnapshots(path, blob string) {
	var last time.Time
	s.every(s.cfg.SnapshotEvery, "cannot share the model snapshot", func() error {
		if !s.node.Lease().Held() {
			return nil
		}
		fi, err := os.Stat(path)
		if err != nil || !fi.ModTime().After(last) {
			return nil
		}
		b, err := os.ReadFile(path) // the learner replaces it whole (rename)
		if err != nil {
			return err
		}
		if err := s.clusterReg.PutBlob(blob, b); err != nil {
			return err
		}
		last = fi.ModTime()
		return nil
	})
}

// watchRegistry serves the cluster's model registry (JetStream's object
// store): the promoted model now, and each promotion as it is made.
func (s *Service) watchRegistry() error {
	reg := s.clusterReg
	s.registry = reg
	if _, err := s.loadPromoted(false); err != nil {
		s.log.Error("not serving the promoted model", "err", err)
	}
	s.bgTasks.Go(func() {
		reg.Watch(s.background, func(int) {
			if _, err := s.loadPromoted(false); err != nil {
				s.log.Error("not serving the promoted model", "err", err)
			}
		})
	})
	return nil
}
