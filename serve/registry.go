package serve

import (
	"errors"
	"fmt"

	"nextbest/decide"
	"nextbest/models"
)

// servedModel tracks which model the engine serves: the promoted artifact
// of the registry when there is one that fits, else the online model.
//
// Swapping is decide.Engine.SetScorer, an atomic pointer store: decisions
// in flight finish on the model they started with, none fails or waits.
// The online model keeps learning either way, so falling back to it (the
// promoted artifact is removed or refused) loses nothing.

// ReloadModel serves the registry's promoted model now, as POST
// /admin/models/reload does, rather than at the next poll; it reports
// whether the served model changed.
func (s *Service) ReloadModel() (bool, error) { return s.loadPromoted(true) }

// loadPromoted serves the registry's promoted model if it changed since
// the last call (or, with force, if a refused one is promoted still). It
// returns whether the served model changed. An artifact
// that does not fit (corrupt, other feature spec, unknown actions) is
// refused with an error and the current model stays.
func (s *Service) loadPromoted(force bool) (bool, error) {
	if s.registry == nil {
		return false, nil
	}
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	v, err := s.registry.PromotedVersion()
	if errors.Is(err, models.ErrNoVersion) {
		v = 0
	} else if err != nil {
		return false, err
	}
	if v == s.servedVersion || (v == s.refusedVersion && !force) {
		return false, nil
	}
	if v == 0 { // promotion withdrawn: back to the online model
		if err := s.engine.SetScorer(s.model); err != nil {
			return false, err
		}
		s.servedVersion = 0
		s.log.Info("serving the online model", "model", s.model.Name())
		return true, nil
	}
	art, err := s.registry.Get(v)
	if err != nil {
		return false, fmt.Errorf("cannot read promoted model v%d: %w", v, err)
	}
	sc, err := decide.ServableModel(art, s.spec, s.cat)
	if err == nil {
		err = s.engine.SetScorer(sc)
	}
	if err != nil {
		s.refusedVersion = v // do not retry (and log) it at every poll
		return false, fmt.Errorf("refusing promoted model v%d: %w", v, err)
	}
	s.servedVersion = v
	s.metrics.modelSwaps.Inc()
	s.log.Info("serving promoted model", "model", sc.Name(), "version", v)
	return true, nil
}
