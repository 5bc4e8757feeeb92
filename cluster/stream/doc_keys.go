package stream

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Document returns the value of a document key of the registry bucket
// (the live experiments, say), nil when it was never put.
func (r *Registry) Document(key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	e, err := r.kv.Get(ctx, "doc."+key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, r.s.apiErr("cannot read document "+key, err)
	}
	return e.Value(), nil
}

// PutDocument sets a document key of the registry bucket; every
// instance's WatchDocument sees it.
func (r *Registry) PutDocument(key string, value []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	if _, err := r.kv.Put(ctx, "doc."+key, value); err != nil {
		return r.s.apiErr("cannot write document "+key, err)
	}
	return nil
}

// WatchDocument calls fn with every new value of a document key, until
// ctx ends; it watches again after a failure (fn may then see a value
// again).
func (r *Registry) WatchDocument(ctx context.Context, key string, fn func([]byte)) {
	for ctx.Err() == nil && !r.s.isClosed() {
		w, err := r.kv.Watch(ctx, "doc."+key, jetstream.UpdatesOnly())
		if err == nil {
			for e := range w.Updates() {
				if e != nil && e.Operation() == jetstream.KeyValuePut {
					fn(e.Value())
				}
			}
			w.Stop()
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// PutBlob stores data as object name of the model bucket (a shared
// online-model snapshot, say), replacing what it held.
func (r *Registry) PutBlob(name string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	if _, err := r.obj.PutBytes(ctx, name, data); err != nil {
		return r.s.apiErr("cannot store object "+name, err)
	}
	return nil
}

// GetBlob returns object name of the model bucket, nil when there is
// none.
func (r *Registry) GetBlob(name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	b, err := r.obj.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, r.s.apiErr("cannot read object "+name, err)
	}
	return b, nil
}
