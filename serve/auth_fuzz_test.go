package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzKeysConfig: the keys document (the configuration's auth block, the
// admin API's saved keys) never panics the parser or the validation; a
// set it accepts has valid names, hashes and scopes, and every key in it
// is found by its hash; one it refuses is refused with a field.
func FuzzKeysConfig(f *testing.F) {
	f.Add([]byte("keys:\n  - {name: web, sha256: " + HashKey("k") + ", scopes: [decide, ingest], rate_per_second: 500}\n"))
	f.Add([]byte("keys: [{name: a, sha256: zz, scopes: [read]}]"))
	f.Add([]byte("keys: [{name: a, sha256: " + HashKey("x") + ", scopes: []}]"))
	f.Add([]byte("keys: [{name: a, sha256: " + HashKey("x") + ", scopes: [read], rate_per_second: -1}]"))
	f.Add([]byte("keys: {}"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := parseKeysDoc(doc)
		if err != nil {
			return
		}
		kr, err := newKeyring(keys, nil)
		if err != nil {
			var fe *fieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.field, "auth.keys[") {
				t.Fatalf("refused without a field: %v", err)
			}
			return
		}
		if len(kr.byHash) != len(keys) {
			t.Fatalf("%d keys, %d in the ring", len(keys), len(kr.byHash))
		}
		for _, k := range kr.byHash {
			if k.name == "" || len(k.scopes) == 0 {
				t.Fatalf("accepted a key without a name or scopes: %+v", k)
			}
		}
		// every key is found by its hash, under its own name
		for _, key := range keys {
			h, err := hex.DecodeString(key.SHA256)
			if err != nil || len(h) != sha256.Size {
				t.Fatalf("accepted a bad hash %q", key.SHA256)
			}
			if k := kr.byHash[[sha256.Size]byte(h)]; k == nil || k.name != key.Name {
				t.Fatalf("key %s is not found by its hash", key.Name)
			}
		}
	})
}

// FuzzPresentedKey: any Authorization and Ocp-Apim-Subscription-Key
// headers give a key or none, never a panic; a Bearer credential wins
// over the subscription key, and the key has no surrounding spaces.
func FuzzPresentedKey(f *testing.F) {
	f.Add("Bearer nb_abc", "")
	f.Add("", "0123456789abcdef")
	f.Add("Basic dXNlcjpwYXNz", "k")
	f.Add("Bearer ", "k")
	f.Add("bearer x", "")
	f.Fuzz(func(t *testing.T, auth, ocp string) {
		var h fasthttp.RequestHeader
		h.Set("Authorization", auth)
		h.Set("Ocp-Apim-Subscription-Key", ocp)
		got := presentedKey(&h)
		if got != strings.TrimSpace(got) {
			t.Fatalf("key %q has surrounding spaces", got)
		}
		if b, ok := strings.CutPrefix(string(h.Peek("Authorization")), "Bearer "); ok && got != strings.TrimSpace(b) {
			t.Fatalf("Bearer %q gave %q", b, got)
		}
	})
}
