// Package cluster runs one instance of the cluster storage path: the
// journal on NATS JetStream (cluster/stream), the derived state on Redis
// (cluster/rstore), and between them the one state applier of the
// cluster, under a lease.
//
// The stream is the order of truth. An instance publishes a record, waits
// for JetStream's acknowledgement (durable), then for the record to be
// applied to Redis, and only then answers 2xx: what one instance
// acknowledged, every instance reads.
//
// Every instance consumes the whole stream in order, from its online
// model's snapshot. The instance holding the applier lease (Lease)
// applies each batch to Redis through the same state.Applier the embedded
// path uses, fenced on the applied LSN (kv.Batch.Expect), so a record is
// applied exactly once even across a lease handover or an instance killed
// between publish and apply: the next holder applies what the stream holds
// past Redis's applied LSN. The others wait until Redis has applied a
// batch and hand it to their learner only (state.Applier applies nothing
// at or below the applied LSN), so every instance's online model learns
// the same records in the same order from the same state.
package cluster
