// Package driver drives a running nextbest service over HTTP with the
// customer journeys of package sim: it is "nextbest simulate" and the
// service's load generator.
package driver
