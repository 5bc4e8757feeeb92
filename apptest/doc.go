// Package apptest holds binary-level tests: they build cmd/nextbest, run it
// as a real process on a loopback port, and talk to it over HTTP, the way
// a channel system would. Nothing here is imported by the service.
package apptest
