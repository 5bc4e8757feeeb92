// Package features turns what is known about a customer into the numbers a
// model scores.
//
// # Profiles
//
// A Profile unifies attributes, exponentially decayed counters, the time of
// the last event of each type, the last channel, the journey stage, consents
// and the contact history per action. Spec.ApplyEvent, RecordImpression and
// RecordOutcome update one; they are pure functions of the profile and
// their arguments (time is passed in, never read from the clock), so the
// journal can be replayed into the same profiles.
//
// # The spec
//
// One YAML file (see examples/retail/features.yaml) declares both halves:
//
//	profile:  events, stages (ordered), default_stage, counters (name,
//	          half_life such as 7d, events, optional numeric property to
//	          sum), transitions (on, optional from, to; first match wins),
//	          attributes (name, type, optional consent channel, pii: true
//	          for personal data, masked where inputs are shown) and
//	          attribute_events that set them.
//	vector:   timezone (for time.*), recency_default_days (365), context
//	          and action field declarations (name, type number|string|bool,
//	          required, max_len, min, max), features and crosses.
//
// A feature has a source and a type: numeric (clip [min,max] on the raw
// value, then transform none|log1p (signed: -log1p(-x) below 0), then
// scale {mean,std} or {min,max}; default is the raw value used when the
// source is missing, 0 unless set, recency_default_days for
// profile.recency.*), onehot (values plus an "other" slot; a missing value
// sets no slot), hashed (FNV-1a 64 of the value's key mod buckets) and bias.
// A cross of sources a and b sets bucket FNV-1a64(key(a) 0x1f key(b)) mod
// buckets. Keys are strings as is, bools "true"/"false" and numbers in
// shortest form ('g', -1: 13, 0.5). Sources: profile.stage,
// profile.last_channel, profile.counters.<name> (decayed at decision time),
// profile.recency.<event> (days since), profile.attributes.<name>,
// profile.tenure_days, context.<name>, request.channel, time.hour,
// time.weekday (0 = Sunday), action.id, action.<name>.
//
// Parsing is strict: unknown keys, wrong types and bad references are
// *FieldError values that name the field path. Spec.Hash identifies the
// spec (defaults filled in) for model artifacts.
//
// # Vectors
//
// Assembly is split so that the decide hot path does no allocation and the
// offline rebuild is exact: Spec.Inputs extracts the decision-wide inputs
// and the shared part of the vector into a reused Inputs;
// Inputs.ProfileMap is what the journal logs and Spec.InputsFromLog rebuilds
// the same Inputs from it; Spec.CompileAction runs once per catalog action;
// Spec.Assemble writes one row per action. An Inputs is the profile
// evaluated once at the decision time: Inputs.Counters are its decayed
// counters and Inputs.Time the decision time in vector.timezone, which
// decide's eligibility rules read too.
//
// # Store
//
// Store keeps profiles in a caller-owned Pebble DB (binary, versioned
// encoding) behind a ristretto cache; see Store for its consistency
// guarantee. It is not the journal: Commit does not sync.
//
// # What it is not
//
// It does not decide eligibility or contact policy (decide reads Contacts),
// score anything (models), or make writes durable (the journal does).
package features
