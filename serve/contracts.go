package serve

import (
	"context"
	"time"

	"nextbest/cluster"
	"nextbest/cluster/rstore"
	"nextbest/cluster/stream"
	"nextbest/experiment"
	"nextbest/features"
	"nextbest/journal"
	"nextbest/models"
	"nextbest/state"
)

// The contracts the handlers and the learner depend on, declared where
// they are used. Open wires in the embedded implementations (a
// features.Store over Pebble, the state.Store, a journal.Journal of local
// segments, a models.Registry directory, the in-memory contact ledger) or
// the cluster path's (the same stores over Redis, the JetStream journal
// of a cluster.Node, JetStream's object store, a Redis contact script).

// Profiles reads customer profiles (embedded: features.Store, ristretto
// over Pebble).
type Profiles interface {
	// Get returns the profile of customer id, or nil, nil when there is
	// none. The profile may be shared: callers must not change it (Clone
	// first).
	Get(id string) (*features.Profile, error)
}

// DecisionIndex answers from the applied journal which decisions can
// still take outcomes, which decision a request made, and which outcomes
// were already recorded (embedded: state.Store). It lags the journal by
// at most the batch being applied: an Append returns after its record is
// applied.
type DecisionIndex interface {
	// Decision returns the decision id. Its errors: one wrapping
	// state.ErrNotFound when the index does not hold it (unknown, or older
	// than the retention), state.ErrCorrupt for an entry that does not
	// decode; any other error means the index cannot answer now.
	Decision(id string) (*journal.Decision, error)
	// DecisionForRequest returns the decision made for customer's
	// request_id, with Decision's errors.
	DecisionForRequest(customer, requestID string) (*journal.Decision, error)
	// OutcomeFirstLSN returns the LSN of the outcome applied under a
	// de-duplication key (state.DedupeKeys), 0 if none.
	OutcomeFirstLSN(key string) (uint64, error)
	// Activation returns what of decision d (as Decision returned it) was
	// activated: every slot, when it was made, of a decision made without
	// defer_activation. Errors wrap state.ErrUnavailable or
	// state.ErrCorrupt.
	Activation(d *journal.Decision) (*state.Activation, error)
}

// PersonalizerEvents answers from the applied journal what the
// Personalizer-compatible namespace knows of an event (embedded:
// state.Store). It lags the journal as DecisionIndex does.
type PersonalizerEvents interface {
	// PersonalizerEvent returns event id: its rank call's record, whether
	// it was activated, its rewards so far. Its errors: one wrapping
	// state.ErrNotFound when the index does not hold it (never ranked, or
	// older than the retention), state.ErrCorrupt for an entry that does
	// not decode; any other means the index cannot answer now.
	PersonalizerEvent(id string) (*state.PersonalizerEvent, error)
}

// Contacts makes a decision's contact-policy check and the impressions it
// gives one atomic step, so that frequency caps hold under concurrency,
// across instances too (embedded: contactLedger; cluster: a Redis script,
// rstore.Contacts).
type Contacts interface {
	// Decide reads customer's profile (a fresh one when there is none, or
	// when the store failed: then storeErr says why) with the customer's
	// open reservations added as impressions, and has d decide on it. d
	// returns the ids of the capped actions it gives. Decide reserves them
	// for decision id at time at, atomically with the check d made: where
	// a concurrent decision took what d gives, d decides again on the
	// fresher state. It fills resv and reports whether it reserved
	// anything.
	Decide(customer, id string, at time.Time, d state.Decider, resv *state.Reservation) (reserved bool, err error)
	// Release drops a reservation whose decision (or activation) was not
	// journaled.
	Release(resv *state.Reservation)
	// Reserve reserves, for activation id at time at, customer's
	// impressions of actions (the capped actions an activation shows),
	// without checking a cap: the channel has shown them. The state
	// applier releases it with the activation's record, as a decision's.
	Reserve(customer, id string, at time.Time, actions []string) (state.Reservation, error)
}

// Journal is the durable log the handlers append to (embedded:
// journal.Journal[state.Live], whose subscriber is the state applier).
type Journal interface {
	// AppendLive appends a record and returns its LSN once it is durable
	// and applied, with journal.Journal.Append's errors. live is the
	// handler's in-memory copy of the record for the applier: the handler
	// must not change it until AppendLive returns, nor ever after an
	// error wrapping journal.ErrPending.
	AppendLive(ctx context.Context, typ journal.Type, ts time.Time, payload []byte, live *state.Live) (uint64, error)
	// Health is nil while the journal can write; see journal.Journal.Health.
	Health() error
	// LastLSN returns the highest durable LSN.
	LastLSN() uint64
}

// ModelSource is where promoted models come from (embedded: a
// models.Registry directory).
type ModelSource interface {
	// PromotedVersion returns the promoted version, or an error wrapping
	// models.ErrNoVersion when none is.
	PromotedVersion() (int, error)
	// Get returns the artifact of a version.
	Get(version int) (*models.Artifact, error)
	// List describes every version.
	List() ([]models.Entry, error)
}

// Aggregates are the figures the state applier keeps as it applies the
// journal, for GET /v1/experiments and GET /v1/stats (embedded:
// state.Store). They lag the journal as DecisionIndex does, and survive
// restarts with the state.
type Aggregates interface {
	// Experiment returns the sums of experiment name's decisions, for
	// experiment.Analyze (empty for an experiment without decisions).
	Experiment(name string) (*experiment.Aggregates, error)
	// Volume returns the counts of the applied decisions, returned
	// actions, outcomes and events.
	Volume() (*state.Volume, error)
}

// The embedded implementations.
var (
	_ Profiles           = (*features.Store)(nil)
	_ DecisionIndex      = (*state.Store)(nil)
	_ PersonalizerEvents = (*state.Store)(nil)
	_ Aggregates         = (*state.Store)(nil)
	_ Journal            = (*journal.Journal[state.Live])(nil)
	_ ModelSource        = (*models.Registry)(nil)
	_ Contacts           = (*contactLedger)(nil)
)

// The cluster path's implementations (package cluster and its engines).
var (
	_ Profiles      = (*features.Store)(nil) // over rstore's cached view
	_ DecisionIndex = (*state.Store)(nil)    // over rstore
	_ Journal       = (*cluster.Node)(nil)
	_ ModelSource   = (*stream.Registry)(nil)
	_ Contacts      = (*rstore.Contacts)(nil)
)
