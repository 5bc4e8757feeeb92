# A nextbest cluster on this machine: three instances sharing state in
# Redis and a journal on NATS JetStream, behind HAProxy. See
# scripts/cluster.sh (the ports, CLUSTER_* variables) and docs/cluster.md.
CLUSTER_DIR ?= run/cluster

.PHONY: engines cluster cluster-down cluster-status cluster-clean cluster-failover

## engines: install redis-server, haproxy and wrk (apt-get) and nats-server (go install) into $(go env GOPATH)/bin
engines:
	GO='$(GO)' bash scripts/install-engines.sh

## cluster: build, then start redis, nats, three instances (127.0.0.1:8081-8083) and haproxy (127.0.0.1:8080) under CLUSTER_DIR
cluster: build
	GO='$(GO)' BIN='$(BIN)' CLUSTER_DIR='$(CLUSTER_DIR)' bash scripts/cluster.sh up

## cluster-down: stop what make cluster started (by its pid files in CLUSTER_DIR), nothing else; the data stays
cluster-down:
	GO='$(GO)' CLUSTER_DIR='$(CLUSTER_DIR)' bash scripts/cluster.sh down

## cluster-status: each part of the cluster: pid, address, healthy or not
cluster-status:
	GO='$(GO)' CLUSTER_DIR='$(CLUSTER_DIR)' bash scripts/cluster.sh status

## cluster-clean: cluster-down, then remove CLUSTER_DIR (data, logs, configs)
cluster-clean:
	GO='$(GO)' CLUSTER_DIR='$(CLUSTER_DIR)' bash scripts/cluster.sh clean

## cluster-failover: on a running cluster, kill -9 one instance (FAILOVER_INSTANCE, default b) under load, measure how fast HAProxy drops it, start it again
cluster-failover:
	CLUSTER_DIR='$(CLUSTER_DIR)' bash scripts/cluster-failover.sh
