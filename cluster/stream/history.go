package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nuid"

	"nextbest/models"
)

// historyPrefix is the registry bucket's keys of the history: one key per
// event, named by its time, so that the keys sort in time order.
const historyPrefix = "history."

// Record appends e to the registry's history (models.Event; Time set to
// now if zero).
func (r *Registry) Record(e models.Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	key := fmt.Sprintf("%s%020d-%s", historyPrefix, e.Time.UnixNano(), nuid.Next())
	if _, err := r.kv.Create(ctx, key, b); err != nil {
		return r.s.apiErr("cannot record in the registry's history", err)
	}
	return nil
}

// History returns the registry's events, oldest first.
func (r *Registry) History() ([]models.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	kl, err := r.kv.ListKeysFiltered(ctx, historyPrefix+">")
	if err != nil {
		return nil, r.s.apiErr("cannot list the registry's history", err)
	}
	var keys []string
	for k := range kl.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]models.Event, 0, len(keys))
	for _, k := range keys {
		v, err := r.kv.Get(ctx, k)
		if err != nil {
			return nil, r.s.apiErr("cannot read the registry's history", err)
		}
		var e models.Event
		if json.Unmarshal(v.Value(), &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

var _ models.Promotable = (*Registry)(nil)
