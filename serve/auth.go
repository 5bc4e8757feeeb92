package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"gopkg.in/yaml.v3"
)

// API keys with scopes. A caller sends its key as "Authorization: Bearer
// <key>" or "Ocp-Apim-Subscription-Key: <key>" (Personalizer's header).
// The configuration holds only each key's SHA-256, never the key. With
// keys configured every route but the health probes and the dashboard's
// page needs a key with the route's scope: a missing or unknown key is a
// 401, a key without the scope a 403, a key over its rate a 429 with
// Retry-After. Without keys the service is in development mode: it must
// listen on a loopback address (CheckExposure), every route is open, and
// the admin routes keep the admin token or loopback rule.

// Scopes of APIKey.Scopes and of the routes.
const (
	ScopeDecide       = "decide"        // decide, activate, Personalizer rank
	ScopeIngest       = "ingest"        // outcomes, events, Personalizer reward
	ScopeProfilesRead = "profiles:read" // GET /v1/profiles/{id}
	ScopePrivacy      = "privacy"       // erasure
	ScopeRead         = "read"          // stats, experiments, models, metrics, the dashboard's data
	ScopeAdmin        = "admin"         // models, experiments, mode, shadow, keys
)

// scopes lists every scope, in documentation order.
var scopes = []string{ScopeDecide, ScopeIngest, ScopeProfilesRead, ScopePrivacy, ScopeRead, ScopeAdmin}

// APIKey is one key of the configuration's auth.keys.
type APIKey struct {
	// Name identifies the key in logs, metrics and the audit trail.
	Name string `yaml:"name" json:"name"`
	// SHA256 is the hex SHA-256 of the key (nextbest keys new prints it).
	SHA256 string `yaml:"sha256" json:"sha256"`
	// Scopes are what the key may do; admin does not imply the others.
	Scopes []string `yaml:"scopes" json:"scopes"`
	// RatePerSecond, if > 0, limits the key's requests: a token bucket
	// that holds one second's worth (at least one request).
	RatePerSecond float64 `yaml:"rate_per_second,omitempty" json:"rate_per_second,omitempty"`
}

// AuthConfig is the configuration's auth block.
type AuthConfig struct {
	Keys []APIKey `yaml:"keys" json:"keys"`
}

// keyRuntime is a validated key and its rate bucket.
type keyRuntime struct {
	name   string
	scopes []string
	rate   float64
	mu     sync.Mutex
	tokens float64
	at     time.Time
}

// keyring is the live set of keys, by the SHA-256 of the key.
type keyring struct {
	byHash map[[sha256.Size]byte]*keyRuntime
}

// newKeyring validates keys; errors name the field (auth.keys[i].FIELD).
// Rate buckets of keys that stay (same name and hash) are kept.
func newKeyring(keys []APIKey, old *keyring) (*keyring, error) {
	kr := &keyring{byHash: make(map[[sha256.Size]byte]*keyRuntime, len(keys))}
	names := map[string]bool{}
	for i, k := range keys {
		bad := func(field, reason string) error {
			return &fieldError{status: 422, code: "unprocessable", field: fmt.Sprintf("auth.keys[%d].%s", i, field), reason: reason}
		}
		if k.Name == "" || strings.ContainsAny(k.Name, " \t\r\n\"") {
			return nil, bad("name", fmt.Sprintf("%q: want a non-empty name without spaces or quotes", k.Name))
		}
		if names[k.Name] {
			return nil, bad("name", "duplicate name "+k.Name)
		}
		names[k.Name] = true
		h, err := hex.DecodeString(k.SHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, bad("sha256", "want the 64 hex digits of the key's SHA-256 (nextbest keys new prints it)")
		}
		var hash [sha256.Size]byte
		copy(hash[:], h)
		if kr.byHash[hash] != nil {
			return nil, bad("sha256", "the same key as another entry")
		}
		if len(k.Scopes) == 0 {
			return nil, bad("scopes", "a key needs at least one scope of "+strings.Join(scopes, ", "))
		}
		for j, sc := range k.Scopes {
			if !slices.Contains(scopes, sc) {
				return nil, &fieldError{status: 422, code: "unprocessable", field: fmt.Sprintf("auth.keys[%d].scopes[%d]", i, j),
					reason: fmt.Sprintf("unknown scope %q (want one of %s)", sc, strings.Join(scopes, ", "))}
			}
		}
		if !(k.RatePerSecond >= 0) || math.IsInf(k.RatePerSecond, 0) {
			return nil, bad("rate_per_second", "must be a number ≥ 0 (0: unlimited)")
		}
		kr.byHash[hash] = &keyRuntime{name: k.Name, scopes: slices.Clone(k.Scopes), rate: k.RatePerSecond, tokens: bucketSize(k.RatePerSecond)}
		if old != nil {
			if o := old.byHash[hash]; o != nil && o.name == k.Name && o.rate == k.RatePerSecond {
				kr.byHash[hash] = o // keep its bucket
			}
		}
	}
	return kr, nil
}

// ValidateKeys checks keys as the service does at start; errors name the
// field.
func ValidateKeys(keys []APIKey) error {
	_, err := newKeyring(keys, nil)
	return err
}

// HashKey returns the hex SHA-256 of key, what the configuration holds.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// presentedKey returns the key a request carries, "" for none.
func presentedKey(h *fasthttp.RequestHeader) string {
	if v, ok := strings.CutPrefix(string(h.Peek("Authorization")), "Bearer "); ok {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(string(h.Peek("Ocp-Apim-Subscription-Key")))
}

// bucketSize is the capacity of a key's bucket: one second's worth of
// requests, and at least one.
func bucketSize(rate float64) float64 { return max(1, rate) }

// take takes one request from k's bucket at now; when it is empty it
// returns how long until it holds one.
func (k *keyRuntime) take(now time.Time) (bool, time.Duration) {
	if k.rate <= 0 {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.at.IsZero() {
		k.tokens = min(bucketSize(k.rate), k.tokens+now.Sub(k.at).Seconds()*k.rate)
	}
	k.at = now
	if k.tokens >= 1 {
		k.tokens--
		return true, 0
	}
	return false, time.Duration((1 - k.tokens) / k.rate * float64(time.Second))
}

// keyUserValue is the request's user value naming its key.
const keyUserValue = "nextbest.key"

// authorize checks a request for a route of scope sc ("" open). It
// answers the request and returns false when it may not go on.
func (s *Service) authorize(ctx *fasthttp.RequestCtx, sc string) bool {
	kr := s.keys.Load()
	if kr == nil || len(kr.byHash) == 0 {
		// development mode: open, but the admin routes keep their rule
		return sc != ScopeAdmin || s.admin(ctx)
	}
	if sc == "" {
		return true
	}
	key := presentedKey(&ctx.Request.Header)
	if key == "" {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="nextbest"`)
		writeError(ctx, 401, "unauthenticated", "", "this endpoint needs an API key: Authorization: Bearer <key> or Ocp-Apim-Subscription-Key: <key>")
		return false
	}
	k := kr.byHash[sha256.Sum256([]byte(key))]
	if k == nil {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="nextbest", error="invalid_token"`)
		writeError(ctx, 401, "unauthenticated", "", "unknown API key")
		return false
	}
	ctx.SetUserValue(keyUserValue, k.name)
	if !slices.Contains(k.scopes, sc) {
		writeError(ctx, 403, "permission_denied", "", fmt.Sprintf("key %s lacks the %q scope this endpoint needs", k.name, sc))
		return false
	}
	if ok, wait := k.take(time.Now()); !ok {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		writeError(ctx, 429, "rate_limited", "", fmt.Sprintf("key %s is over its rate of %g requests per second", k.name, k.rate))
		return false
	}
	return true
}

// caller names who makes an administrative change, for the audit trail:
// the key's name, or "admin" without keys.
func caller(ctx *fasthttp.RequestCtx) string {
	if name, ok := ctx.UserValue(keyUserValue).(string); ok {
		return name
	}
	return "admin"
}

// CheckExposure refuses to serve on a non-loopback address without API
// keys: development mode is for one machine. addr is host:port; an empty
// host (all interfaces) is not loopback.
func CheckExposure(addr string, keys []APIKey) error {
	if len(keys) > 0 {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without API keys: configure auth.keys (nextbest keys new) or listen on a loopback address (development mode)", addr)
}

// openKeys starts the keys: the configuration's and those saved through
// the admin API (a key of the cluster's registry bucket, or a file in the
// data directory), and follows changes to the latter.
func (s *Service) openKeys() error {
	s.keysStore = s.liveStore("keys")
	doc, err := s.keysStore.Load()
	if err != nil {
		return err
	}
	saved, err := parseKeysDoc(doc)
	if err != nil {
		return fmt.Errorf("the keys saved through the admin API: %w", err)
	}
	if err := s.useKeys(s.cfg.Auth.Keys, saved); err != nil {
		return err
	}
	if kr := s.keys.Load(); len(kr.byHash) == 0 {
		s.log.Warn("development mode: no API keys are configured, every endpoint is open to whoever reaches the port (loopback only)")
	}
	s.watchDoc(s.keysStore, "not using the keys another instance saved", func(doc []byte) error {
		keys, err := parseKeysDoc(doc)
		if err != nil {
			return err
		}
		s.keysMu.Lock()
		defer s.keysMu.Unlock()
		return s.useKeys(s.cfgKeys, keys)
	})
	return nil
}

func parseKeysDoc(doc []byte) ([]APIKey, error) {
	var d struct {
		Keys []APIKey `yaml:"keys"`
	}
	if err := yaml.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	return d.Keys, nil
}

// useKeys makes the configuration's keys cfg and the admin API's keys api
// live, or changes nothing when together they do not validate.
func (s *Service) useKeys(cfg, api []APIKey) error {
	kr, err := newKeyring(append(slices.Clone(cfg), api...), s.keys.Load())
	if err != nil {
		return err
	}
	s.cfgKeys, s.apiKeys = cfg, api
	s.keys.Store(kr)
	return nil
}

// SetConfigKeys replaces the configuration's keys without a restart (the
// configuration was reloaded); the admin API's keys stay. by names who
// reloaded it, for the audit trail.
func (s *Service) SetConfigKeys(keys []APIKey, by string) error {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if err := s.useKeys(keys, s.apiKeys); err != nil {
		return err
	}
	s.audit(by, "keys_reloaded", fmt.Sprintf("%d keys from the configuration: %s", len(keys), keyNames(keys)))
	return nil
}

func keyNames(keys []APIKey) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

// handleKeysAdmin serves /admin/keys[/NAME]:
//
//	GET    /admin/keys        the keys: name, scopes, rate, where from, the hash's first 8 digits
//	PUT    /admin/keys/NAME   add or rotate NAME (body: {"sha256": "...", "scopes": [...], "rate_per_second": r})
//	DELETE /admin/keys/NAME   revoke NAME
//
// Only keys added here can be changed here; the configuration's change
// with the configuration (a reload, SIGHUP).
func (s *Service) handleKeysAdmin(ctx *fasthttp.RequestCtx, rest string) {
	if rest != "" && !strings.HasPrefix(rest, "/") || strings.Count(rest, "/") > 1 {
		// /admin/keysfoo or /admin/keys/a/b: not a key's path
		writeError(ctx, 404, "not_found", "", "no such endpoint: "+string(ctx.Path()))
		return
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	name := strings.TrimPrefix(rest, "/")
	method := string(ctx.Method())
	if name == "" && method != fasthttp.MethodGet || name != "" && method == fasthttp.MethodGet {
		writeError(ctx, 405, "method_not_allowed", "", "GET /admin/keys, PUT or DELETE /admin/keys/NAME")
		return
	}
	if slices.ContainsFunc(s.cfgKeys, func(k APIKey) bool { return k.Name == name }) && method != fasthttp.MethodGet {
		writeErr(ctx, &fieldError{status: 409, code: "conflict", field: "name", reason: "key " + name + " comes from the configuration: change it there and reload"})
		return
	}
	keys := slices.Clone(s.apiKeys)
	i := slices.IndexFunc(keys, func(k APIKey) bool { return k.Name == name })
	kind := ""
	switch method {
	case fasthttp.MethodGet:
		type keyView struct {
			Name          string   `json:"name"`
			Scopes        []string `json:"scopes"`
			RatePerSecond float64  `json:"rate_per_second,omitempty"`
			From          string   `json:"from"`
			SHA256Prefix  string   `json:"sha256_prefix"`
		}
		var out []keyView
		for _, set := range []struct {
			from string
			keys []APIKey
		}{{"config", s.cfgKeys}, {"admin_api", s.apiKeys}} {
			for _, k := range set.keys {
				out = append(out, keyView{k.Name, k.Scopes, k.RatePerSecond, set.from, k.SHA256[:min(8, len(k.SHA256))]})
			}
		}
		writeJSON(ctx, 200, map[string]any{"keys": out})
		return
	case fasthttp.MethodPut:
		var k APIKey
		if err := json.Unmarshal(ctx.PostBody(), &k); err != nil {
			writeErr(ctx, &fieldError{status: 400, code: "invalid_argument", reason: `the body must be {"sha256": "...", "scopes": [...], "rate_per_second": r}: ` + err.Error()})
			return
		}
		if k.Name != "" && k.Name != name {
			writeErr(ctx, &fieldError{status: 422, code: "unprocessable", field: "name", reason: fmt.Sprintf("the body names key %q, the path %q", k.Name, name)})
			return
		}
		k.Name = name
		if _, err := newKeyring([]APIKey{k}, nil); err != nil {
			// name the body's field, not the key's place in the list
			if fe, ok := err.(*fieldError); ok {
				fe.field = strings.TrimPrefix(fe.field, "auth.keys[0].")
			}
			writeErr(ctx, err)
			return
		}
		kind = "key_added"
		if i >= 0 {
			keys[i], kind = k, "key_rotated"
		} else {
			keys = append(keys, k)
		}
	case fasthttp.MethodDelete:
		if i < 0 {
			writeErr(ctx, &fieldError{status: 404, code: "not_found", field: "name", reason: "no key " + name + " added through the admin API"})
			return
		}
		keys, kind = slices.Delete(keys, i, i+1), "key_revoked"
	default:
		writeError(ctx, 405, "method_not_allowed", "", "GET /admin/keys, PUT or DELETE /admin/keys/NAME")
		return
	}
	old := s.apiKeys
	if err := s.useKeys(s.cfgKeys, keys); err != nil {
		writeErr(ctx, err)
		return
	}
	doc, err := yaml.Marshal(map[string]any{"keys": keys})
	if err == nil {
		err = s.keysStore.Save(doc)
	}
	if err != nil {
		s.useKeys(s.cfgKeys, old) // they were live: they validate
		writeErr(ctx, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	s.audit(caller(ctx), kind, "key "+name)
	writeJSON(ctx, 200, map[string]any{"name": name, "change": kind})
}
