package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Batch decisions for campaigns: POST /v1/decide/batch takes up to
// MaxBatchDecisions decide requests and answers one line of JSON per
// request (application/x-ndjson), in the order given:
//
//	{"index": 0, "status": 200, "decision": {...the decide answer...}}
//	{"index": 1, "status": 422, "error": {"code": ..., "message": ..., "field": ...}}
//
// Each request goes through exactly the path of POST /v1/decide (the
// same decoding, rules, caps, exploration, journaling and idempotency by
// request_id): the batch runs it in process, a few at a time so that the
// journal's group commit takes them together. A request shed for
// overload is retried a few times before its line says 503. One bad
// request does not stop the others.

// MaxBatchDecisions bounds the requests of one batch.
const MaxBatchDecisions = 1000

// batchWorkers is how many of a batch's decisions run at once.
const batchWorkers = 16

var batchAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

func (s *Service) handleDecideBatch(ctx *fasthttp.RequestCtx) {
	var body struct {
		Decisions []json.RawMessage `json:"decisions"`
	}
	dec := json.NewDecoder(bytes.NewReader(ctx.PostBody()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeErr(ctx, badField("decisions", `the body must be {"decisions": [<decide request>, ...]}: %v`, err))
		return
	}
	n := len(body.Decisions)
	switch {
	case n == 0:
		writeErr(ctx, badField("decisions", "must hold 1 to %d decide requests, not 0", MaxBatchDecisions))
		return
	case n > MaxBatchDecisions:
		writeErr(ctx, &fieldError{status: 413, code: "payload_too_large", field: "decisions",
			reason: fmt.Sprintf("%d decide requests; a batch holds at most %d", n, MaxBatchDecisions)})
		return
	}
	lines := make([][]byte, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(batchWorkers, n) {
		wg.Go(func() {
			var req fasthttp.Request
			var c fasthttp.RequestCtx
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				req.Reset()
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetContentType("application/json")
				req.SetRequestURI("/v1/decide")
				req.SetBody(body.Decisions[i])
				for try := 0; ; try++ {
					c.Init(&req, batchAddr, nil)
					s.handleDecide(&c)
					if c.Response.StatusCode() != fasthttp.StatusServiceUnavailable || try == 4 {
						break
					}
					time.Sleep(time.Duration(5<<try) * time.Millisecond) // shed: back off, as a channel would
				}
				lines[i] = batchLine(i, c.Response.StatusCode(), c.Response.Body())
			}
		})
	}
	wg.Wait()
	ctx.SetStatusCode(200)
	ctx.SetContentType("application/x-ndjson")
	var out bytes.Buffer
	for _, l := range lines {
		out.Write(l)
		out.WriteByte('\n')
	}
	ctx.SetBody(out.Bytes())
}

// batchLine is one request's line of a batch answer: its index, its
// status and the decide answer (2xx) or the error object.
func batchLine(i, status int, body []byte) []byte {
	b := fmt.Appendf(nil, `{"index":%d,"status":%d`, i, status)
	if status/100 == 2 {
		b = append(b, `,"decision":`...)
		return append(append(b, body...), '}')
	}
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		e.Error, _ = json.Marshal(map[string]string{"code": "internal", "message": "status " + strconv.Itoa(status)})
	}
	b = append(b, `,"error":`...)
	return append(append(b, e.Error...), '}')
}
