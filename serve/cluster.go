package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"nextbest/cluster"
	"nextbest/features"
	"nextbest/state"
)

// openState opens the embedded state store under DataDir.
func (s *Service) openState() error {
	statePath := filepath.Join(s.cfg.DataDir, "state")
	if err := os.MkdirAll(statePath, 0o755); err != nil {
		return fmt.Errorf("data dir %s: %w", s.cfg.DataDir, err)
	}
	var err error
	if s.state, err = state.Open(state.Config{Dir: statePath, CacheMaxCost: s.cfg.CacheMaxCost, Logger: s.log}); err != nil {
		if le := (*state.LockedError)(nil); errors.As(err, &le) {
			return fmt.Errorf("data dir %s is in use by another instance: %w", s.cfg.DataDir, err)
		}
		return err
	}
	s.profiles, s.index, s.aggregates = s.state.Profiles(), s.state, s.state
	return nil
}

// openNode connects the cluster path: the state in Redis, the journal on
// JetStream. The handlers read profiles through the client-side cache
// that Redis invalidates; the applier and the index read Redis itself.
func (s *Service) openNode() error {
	cfg := *s.cfg.Cluster
	cfg.Logger = s.log
	cfg.Redis.Indexed = []string{"e/", "v/"}
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
	return nil
}

// watchRegistry serves the cluster's model registry (JetStream's object
// store): the promoted model now, and each promotion as it is made.
func (s *Service) watchRegistry() error {
	reg, err := s.node.Stream().Registry(context.Background())
	if err != nil {
		return err
	}
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
