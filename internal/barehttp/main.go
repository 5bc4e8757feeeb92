// Command barehttp is the yardstick of make bench-http: a bare fasthttp
// server that answers every request with a fixed JSON body the size of a
// decision, doing nothing else. What decide over HTTP costs beyond it is
// the service's own work.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/valyala/fasthttp"
)

// body is about the size of a three-action decide answer.
const body = `{"decision_id":"0186f5a4c3b2a1f0e9d8c7b6a5f4e3d2","policy":"linucb","actions":[` +
	`{"action_id":"free-shipping","score":0.4125,"propensity":0.9333},` +
	`{"action_id":"cart-reminder-10","score":0.3871,"propensity":0.0333},` +
	`{"action_id":"new-arrivals","score":0.2204,"propensity":0.0333}],"fallback":false}`

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen `address`")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "barehttp:", err)
		os.Exit(1)
	}
	srv := &fasthttp.Server{
		Name:                 "barehttp",
		NoDefaultContentType: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json")
			ctx.SetBodyString(body)
		},
	}
	// the address, for the caller that asked for a free port
	fmt.Println(ln.Addr().String())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		srv.Shutdown()
	}()
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "barehttp:", err)
		os.Exit(1)
	}
}
