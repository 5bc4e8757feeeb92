package journal_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"nextbest/journal"
)

// Append returns once the record is durable (written and fsynced with
// the records of concurrent appends: group commit); Replay reads back
// every durable record in LSN order, as recovery does.
func ExampleJournal_Append() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	j, err := journal.Open(journal.Config{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, body := range []string{`{"v":1,"customer_id":"c-1","type":"page_view"}`, `{"v":1,"customer_id":"c-1","type":"purchase"}`} {
		lsn, err := j.Append(context.Background(), journal.TypeEvent, at, []byte(body))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("durable at LSN", lsn)
	}
	err = j.Replay(1, func(r journal.Record) error {
		fmt.Println(r.LSN, r.Type, string(r.Payload))
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	if err := j.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// durable at LSN 1
	// durable at LSN 2
	// 1 event {"v":1,"customer_id":"c-1","type":"page_view"}
	// 2 event {"v":1,"customer_id":"c-1","type":"purchase"}
}
