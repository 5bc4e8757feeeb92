package apptest

import (
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKillNineLosesNothingAcknowledged sends events and decisions from
// many clients, kills the process with SIGKILL mid-flight, restarts it on
// the same data, and checks that everything that was acknowledged is
// there: every acknowledged event counted in its customer's profile, every
// acknowledged decision still known to the outcome endpoint. Pebble runs
// without a WAL, so this also proves the journal replay rebuilds what the
// kill lost.
func TestKillNineLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real process")
	}
	data := t.TempDir()
	// snapshot the online model often, so the kill lands between snapshots
	conf := filepath.Join(data, "nextbest.yaml")
	write(t, conf, "snapshot_every: 20ms\n")
	srv := startServer(t, data, "--profiles", "none", "--config", conf)

	const clients, customers = 16, 40
	var mu sync.Mutex
	acked := map[string]int{} // customer → acknowledged page_view events
	sent := map[string]int{}
	var decisions []string // acknowledged decision ids
	attempted := 0         // decide calls sent
	var decidedAction = map[string]string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cust := fmt.Sprintf("k-%03d", (c*7+i)%customers)
				if i%3 == 2 {
					mu.Lock()
					attempted++
					mu.Unlock()
					code, out, err := srv.post("/v1/decide", map[string]any{"customer_id": cust, "channel": "app"})
					if err == nil && code == 200 {
						acts, _ := out["actions"].([]any)
						if len(acts) > 0 {
							mu.Lock()
							id := out["decision_id"].(string)
							decisions = append(decisions, id)
							decidedAction[id] = acts[0].(map[string]any)["action_id"].(string)
							mu.Unlock()
						}
					}
					continue
				}
				mu.Lock()
				sent[cust]++
				mu.Unlock()
				code, _, err := srv.post("/v1/events", map[string]any{"customer_id": cust, "type": "page_view", "channel": "app"})
				if err == nil && code == 202 {
					mu.Lock()
					acked[cust]++
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond) // let the load run; the kill must land mid-flight
	srv.cmd.Process.Signal(syscall.SIGKILL)
	srv.cmd.Wait()
	close(stop)
	wg.Wait()

	total := 0
	for _, n := range acked {
		total += n
	}
	if total < 100 || len(decisions) < 20 {
		t.Fatalf("too little load before the kill: %d events, %d decisions acknowledged", total, len(decisions))
	}
	t.Logf("acknowledged before SIGKILL: %d events, %d decisions", total, len(decisions))

	srv2 := startServer(t, data, "--profiles", "none", "--config", conf)
	// every decision shows one action: one observation each in the online
	// model, counted once even though the kill fell between snapshots
	_, m := srv2.get("/v1/models")
	obs := int(m["online"].(map[string]any)["observations"].(float64))
	if obs < len(decisions) || obs > attempted {
		t.Errorf("online model has %d observations; acknowledged decisions %d, attempted %d", obs, len(decisions), attempted)
	}
	for cust, n := range acked {
		code, p := srv2.get("/v1/profiles/" + cust)
		if code != 200 {
			t.Errorf("%s: profile status %d after restart", cust, code)
			continue
		}
		visits := p["counters_now"].(map[string]any)["visits_7d"].(float64)
		// each page_view adds 1 to visits_7d (half-life 7 days: the decay
		// over this test's seconds is below 1e-5 per event)
		if visits < float64(n)*(1-1e-5)-1e-9 || visits > float64(sent[cust])+1e-9 {
			t.Errorf("%s: visits_7d %.6f after restart; acknowledged %d, sent %d", cust, visits, n, sent[cust])
		}
	}
	for _, id := range decisions {
		code, out, err := srv2.post("/v1/outcomes", map[string]any{"decision_id": id, "action_id": decidedAction[id], "reward": 1})
		if err != nil || code != 202 {
			t.Fatalf("outcome for acknowledged decision %s: %d %v %v", id, code, out, err)
		}
	}
	srv2.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv2.cmd.Wait(); err != nil {
		t.Errorf("graceful shutdown: %v\n%s", err, srv2.log)
	}
}
