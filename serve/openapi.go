package serve

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// openAPIDoc is the OpenAPI 3.1 description of every endpoint, served at
// GET /openapi.json; openapi_test.go drives a real service through every
// operation and checks each answer against it.
//
//go:embed openapi.json
var openAPIDoc []byte

func handleOpenAPI(ctx *fasthttp.RequestCtx) { writeRawJSON(ctx, 200, openAPIDoc) }
