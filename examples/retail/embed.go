// Package retail is the shipped sample of nextbest: an action catalog, a
// feature spec and demo customer profiles for an online retailer. The
// service runs on it when no other files are configured.
package retail

import _ "embed"

// Catalog is the sample action catalog (catalog.yaml).
//
//go:embed catalog.yaml
var Catalog []byte

// FeatureSpec is the sample feature spec (features.yaml).
//
//go:embed features.yaml
var FeatureSpec []byte

// Profiles are the demo customer profiles (profiles.jsonl), loaded at first
// start.
//
//go:embed profiles.jsonl
var Profiles []byte
