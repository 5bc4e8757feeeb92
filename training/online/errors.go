package online

import "errors"

// Errors of the online learner.
var (
	// ErrBadConfig is returned (wrapped) by New for a Config it cannot
	// run with.
	ErrBadConfig = errors.New("online: bad config")
	// ErrBadSnapshot is returned by LoadSnapshot for an online-model
	// snapshot that does not decode (header, version or model).
	ErrBadSnapshot = errors.New("online: model snapshot does not decode")
	// ErrSnapshotCatalog is returned by LoadSnapshot for a snapshot taken
	// with another action catalog.
	ErrSnapshotCatalog = errors.New("online: model snapshot was taken with another action catalog")
	// ErrSnapshotFeaturization is returned by LoadPersonalizerSnapshot for
	// a snapshot of another hashing dimension or featurization version.
	ErrSnapshotFeaturization = errors.New("online: personalizer model snapshot was taken with another featurization")
	// ErrSnapshotOverflow is returned by LoadSnapshot for a snapshot whose
	// statistics are past models.MaxRidgeStat: written before the model
	// guarded against them (a poisoned outcome), it cannot serve.
	ErrSnapshotOverflow = errors.New("online: model snapshot holds statistics out of range")
)
