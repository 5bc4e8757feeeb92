package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"nextbest/journal"
)

// Defaults for Config fields left zero.
const (
	DefaultStream          = "NEXTBEST"
	DefaultSubject         = "nextbest.journal"
	DefaultReplicas        = 1
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultMaxPending      = 4096
	DefaultModelBucket     = "nextbest-models"
	DefaultRegistryBucket  = "nextbest-registry"
)

// Timings that are not configuration.
const (
	// reconnectWait is the pause between reconnect attempts (nats.go adds
	// jitter).
	reconnectWait = 500 * time.Millisecond
	// ackTimeout bounds how long nats.go keeps an asynchronous publish
	// waiting for its acknowledgement, so that a slot of MaxPending is
	// always freed in the end, even after the caller's ctx gave up.
	ackTimeout = 10 * time.Second
	// probeInterval is how often a Stream whose last publish failed asks
	// JetStream whether it answers again (see Health).
	probeInterval = time.Second
	// closeWait bounds how long Close waits for pending acknowledgements.
	closeWait = 5 * time.Second
)

// Config configures a Stream. Only URL is required.
type Config struct {
	// URL is the NATS server URL, or several separated by commas
	// (nats://host:port[,nats://host2:port]).
	URL string
	// Stream is the JetStream stream name. Default "NEXTBEST".
	Stream string
	// Subject is the subject records are published on; the stream's
	// subjects are exactly [Subject]. Default "nextbest.journal".
	Subject string
	// Replicas is the stream's replica count (1 on a single server).
	// Default 1.
	Replicas int
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id to
	// drop a re-send of it (see the package doc). Default 2 minutes.
	DuplicateWindow time.Duration
	// MaxPending bounds the publishes awaiting their acknowledgement;
	// Publish waits (within its ctx) for room. Default 4096.
	MaxPending int

	// ModelBucket is the object store of the model registry (Registry).
	// Default "nextbest-models".
	ModelBucket string
	// RegistryBucket is the key-value bucket of the model registry: the
	// version claims and the promoted version. Default "nextbest-registry".
	RegistryBucket string

	// Credentials and TLS, as nats.go supports them; all optional.
	CredsFile string // a .creds file (JWT and NKey seed): nats.UserCredentials
	NKeyFile  string // an NKey seed file: nats.NkeyOptionFromSeed
	User      string // with Password: nats.UserInfo
	Password  string
	Token     string // nats.Token
	TLSCA     string // PEM file of the CAs to trust: nats.RootCAs
	TLSCert   string // with TLSKey, the client certificate: nats.ClientCert
	TLSKey    string

	// Name is the client connection's name, the instance id, as the
	// server's monitoring shows it.
	Name string
	// Logger receives connection and failure logs. Nil discards them.
	Logger *slog.Logger
}

// withDefaults validates cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return cfg, fmt.Errorf("%w: URL is required", ErrBadConfig)
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if strings.ContainsAny(cfg.Stream, " \t\r\n.*>/\\") {
		return cfg, fmt.Errorf("%w: stream name %q must not contain whitespace, '.', '*', '>', '/' or '\\'", ErrBadConfig, cfg.Stream)
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if !validSubject(cfg.Subject) {
		return cfg, fmt.Errorf("%w: subject %q must be dot-separated non-empty tokens without whitespace or wildcards", ErrBadConfig, cfg.Subject)
	}
	if cfg.ModelBucket == "" {
		cfg.ModelBucket = DefaultModelBucket
	}
	if cfg.RegistryBucket == "" {
		cfg.RegistryBucket = DefaultRegistryBucket
	}
	for _, b := range []string{cfg.ModelBucket, cfg.RegistryBucket} {
		if !validBucket(b) {
			return cfg, fmt.Errorf("%w: bucket name %q may hold only letters, digits, '-' and '_'", ErrBadConfig, b)
		}
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = DefaultReplicas
	}
	if cfg.Replicas < 1 || cfg.Replicas > 5 {
		return cfg, fmt.Errorf("%w: Replicas %d: JetStream allows 1 to 5", ErrBadConfig, cfg.Replicas)
	}
	if cfg.DuplicateWindow == 0 {
		cfg.DuplicateWindow = DefaultDuplicateWindow
	}
	if cfg.DuplicateWindow < 0 {
		return cfg, fmt.Errorf("%w: DuplicateWindow must not be negative", ErrBadConfig)
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxPending < 0 {
		return cfg, fmt.Errorf("%w: MaxPending must not be negative", ErrBadConfig)
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return cfg, fmt.Errorf("%w: TLSCert and TLSKey go together", ErrBadConfig)
	}
	if cfg.Password != "" && cfg.User == "" {
		return cfg, fmt.Errorf("%w: Password without User", ErrBadConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

func validBucket(b string) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return b != ""
}

func validSubject(s string) bool {
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return false
		}
	}
	return true
}

// Stream is the journal on a JetStream stream: Publish appends a record,
// Records reads them back in order. Its methods are safe for concurrent
// use.
type Stream struct {
	cfg    Config
	url    string // cfg.URL with passwords redacted, for messages
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream

	sem  chan struct{} // one token per publish awaiting its ack
	done chan struct{} // closed by Close

	mu      sync.Mutex
	closed  bool
	pubErr  error // the last publish failure, until a publish or a probe succeeds
	probing bool
}

// Open connects to the NATS server at cfg.URL and creates the stream, or
// updates an existing one to the journal's settings: file storage,
// limits retention, discard old, subjects [cfg.Subject], cfg's duplicate
// window and replicas. Limits an operator set on an existing stream
// (MaxAge, MaxBytes, ...) are kept. An existing stream with memory
// storage or another retention is refused (ErrBadConfig): those cannot be
// changed in place.
//
// The connection reconnects forever: a server that restarts is picked up
// by itself. If the server cannot be reached at all, Open fails with an
// error wrapping ErrUnavailable that names the URL.
func Open(ctx context.Context, cfg Config) (*Stream, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Stream{
		cfg:  cfg,
		url:  redactURL(cfg.URL),
		log:  cfg.Logger,
		sem:  make(chan struct{}, cfg.MaxPending),
		done: make(chan struct{}),
	}
	opts := []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		// No reconnect buffer: a publish while disconnected fails at
		// once (ErrUnavailable) instead of leaving the caller to wait for
		// an ack that a buffered message may get long after it gave up.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if s.isClosed() {
				return
			}
			if err != nil {
				s.log.Warn("stream: disconnected from NATS; reconnecting", "url", s.url, "err", err)
			} else {
				s.log.Warn("stream: disconnected from NATS; reconnecting", "url", s.url)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.log.Info("stream: reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			s.log.Warn("stream: NATS error", "url", s.url, "err", err)
		}),
	}
	if cfg.Name != "" {
		opts = append(opts, nats.Name(cfg.Name))
	}
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 && d < nats.DefaultTimeout {
			opts = append(opts, nats.Timeout(d))
		}
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: NKeyFile %q: %w", ErrBadConfig, cfg.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.TLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.nc, err = nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot connect to NATS at %s: %w", ErrUnavailable, s.url, err)
	}
	s.js, err = jetstream.New(s.nc,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
		jetstream.WithPublishAsyncTimeout(ackTimeout))
	if err != nil {
		s.nc.Close()
		return nil, fmt.Errorf("stream: cannot use JetStream at %s: %w", s.url, err)
	}
	if s.stream, err = s.ensureStream(ctx); err != nil {
		s.nc.Close()
		return nil, err
	}
	return s, nil
}

// ensureStream creates the stream or brings an existing one to the
// journal's settings.
func (s *Stream) ensureStream(ctx context.Context) (jetstream.Stream, error) {
	cfg := s.cfg
	want := jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "nextbest journal: decisions, outcomes and events",
		Subjects:    []string{cfg.Subject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Duplicates:  cfg.DuplicateWindow,
		Replicas:    cfg.Replicas,
	}
	st, err := s.js.Stream(ctx, cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = s.js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another instance created it meanwhile
			st, err = s.js.Stream(ctx, cfg.Stream)
		}
	}
	if err != nil {
		return nil, s.apiErr(fmt.Sprintf("cannot create or look up stream %s", cfg.Stream), err)
	}
	cur := st.CachedInfo().Config
	if cur.Storage != jetstream.FileStorage {
		return nil, fmt.Errorf("%w: stream %s at %s has %s storage; the journal needs file storage (it cannot be changed in place: move the stream aside or name another one)", ErrBadConfig, cfg.Stream, s.url, cur.Storage)
	}
	if cur.Retention != jetstream.LimitsPolicy {
		return nil, fmt.Errorf("%w: stream %s at %s has %s retention; the journal needs limits retention (it cannot be changed in place: move the stream aside or name another one)", ErrBadConfig, cfg.Stream, s.url, cur.Retention)
	}
	if slices.Equal(cur.Subjects, want.Subjects) && cur.Discard == want.Discard &&
		cur.Duplicates == want.Duplicates && cur.Replicas == want.Replicas {
		return st, nil
	}
	upd := cur
	upd.Subjects, upd.Discard, upd.Duplicates, upd.Replicas = want.Subjects, want.Discard, want.Duplicates, want.Replicas
	st, err = s.js.UpdateStream(ctx, upd)
	if err != nil {
		return nil, s.apiErr(fmt.Sprintf("cannot update stream %s to subjects %v, duplicate window %v, %d replicas", cfg.Stream, want.Subjects, want.Duplicates, want.Replicas), err)
	}
	s.log.Info("stream: updated stream settings", "stream", cfg.Stream, "subjects", want.Subjects,
		"duplicate_window", want.Duplicates, "replicas", want.Replicas)
	return st, nil
}

// Publish appends one record (type, time, payload) to the stream with
// Nats-Msg-Id = id, and returns its stream sequence, which is the
// record's LSN, once JetStream has acknowledged it: stored on file
// storage (with the server's sync_interval always, fsynced). A zero ts is
// replaced by time.Now(). Publish does not retain payload.
//
// If JetStream already holds a record with this id within the duplicate
// window, nothing is stored: Publish returns the original's sequence and
// duplicate = true. An empty id publishes without de-duplication.
//
// The publish is asynchronous, with at most Config.MaxPending publishes
// awaiting their acknowledgement; Publish waits for room, then for the
// ack, within ctx. Errors: journal.ErrBadType, journal.ErrBadTime,
// journal.ErrTooLarge and ErrBadID for bad input; ErrUnavailable (wrapped with the
// cause, and with ctx.Err() when ctx ended) when the record was not
// acknowledged: disconnected, no room or no ack before ctx ended,
// JetStream unavailable. Then the record may or may not be stored: a
// re-send with the same id within the window is stored at most once.
// ErrClosed after Close.
func (s *Stream) Publish(ctx context.Context, id string, typ journal.Type, ts time.Time, payload []byte) (seq uint64, duplicate bool, err error) {
	if !journal.Appendable(typ) {
		return 0, false, fmt.Errorf("%w: %d", journal.ErrBadType, typ)
	}
	if len(payload) > journal.MaxPayload {
		return 0, false, fmt.Errorf("%w: %d bytes, limit %d", journal.ErrTooLarge, len(payload), journal.MaxPayload)
	}
	if ts.IsZero() {
		ts = time.Now()
	}
	if err := checkTime(ts); err != nil {
		return 0, false, err
	}
	if err := checkID(id); err != nil {
		return 0, false, err
	}
	if s.isClosed() {
		return 0, false, ErrClosed
	}
	select {
	case s.sem <- struct{}{}:
	case <-s.done:
		return 0, false, ErrClosed
	case <-ctx.Done():
		return 0, false, fmt.Errorf("%w: %d publishes to %s await their ack (MaxPending): %w", ErrUnavailable, s.cfg.MaxPending, s.url, ctx.Err())
	}
	msg := nats.NewMsg(s.cfg.Subject)
	msg.Data = payload
	setHeaders(msg.Header, typ, ts)
	if id != "" {
		msg.Header.Set(jetstream.MsgIDHeader, id)
	}
	msg.Header.Set(jetstream.ExpectedStreamHeader, s.cfg.Stream)
	paf, err := s.js.PublishMsgAsync(msg)
	if err != nil {
		<-s.sem
		return 0, false, s.failed(err)
	}
	okc, errc := paf.Ok(), paf.Err()
	select {
	case ack := <-okc:
		<-s.sem
		s.succeeded()
		return ack.Sequence, ack.Duplicate, nil
	case err := <-errc:
		<-s.sem
		return 0, false, s.failed(err)
	case <-s.done:
		<-s.sem
		return 0, false, ErrClosed
	case <-ctx.Done():
		// The publish is still pending in nats.go: keep its slot until it
		// resolves (ack, error or ackTimeout), so that MaxPending bounds
		// what the server may still be sent acks for.
		go func() {
			select {
			case <-okc:
			case <-errc:
			case <-s.done:
			}
			<-s.sem
		}()
		return 0, false, fmt.Errorf("%w: no ack from %s for record %q: %w", ErrUnavailable, s.url, id, ctx.Err())
	}
}

// MaxIDLength is the longest id Publish takes, in bytes.
const MaxIDLength = 1024

// checkID refuses an id that the Nats-Msg-Id header would not carry as it
// is (net/http's header writer turns CR and LF into spaces, so two ids
// would collide).
func checkID(id string) error {
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBadID, len(id), MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: %q holds a control character", ErrBadID, id)
		}
	}
	return nil
}

// failed classifies a publish error and, unless it is the caller's (too
// large), records it for Health.
func (s *Stream) failed(err error) error {
	if errors.Is(err, nats.ErrMaxPayload) {
		return fmt.Errorf("%w: over the max_payload of the server at %s (%d bytes): %w", journal.ErrTooLarge, s.url, s.nc.MaxPayload(), err)
	}
	if s.isClosed() || errors.Is(err, nats.ErrConnectionClosed) {
		return ErrClosed
	}
	err = s.apiErr("publish failed", err)
	s.mu.Lock()
	first := s.pubErr == nil
	s.pubErr = err
	startProbe := !s.probing && !s.closed
	if startProbe {
		s.probing = true
	}
	s.mu.Unlock()
	if first {
		s.log.Error("stream: publish failed; Health reports it until a publish or a probe succeeds", "err", err)
	}
	if startProbe {
		go s.probe()
	}
	return err
}

// succeeded clears a recorded publish failure.
func (s *Stream) succeeded() {
	s.mu.Lock()
	was := s.pubErr
	s.pubErr = nil
	s.mu.Unlock()
	if was != nil {
		s.log.Info("stream: publishing again", "url", s.url)
	}
}

// probe asks JetStream for the stream's info every probeInterval while
// the last publish failed, and clears the failure once it answers, so
// that Health recovers without traffic (a load balancer that drains an
// unhealthy instance sends it none).
func (s *Stream) probe() {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.pubErr == nil { // a publish succeeded meanwhile
			s.probing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if s.nc.Status() != nats.CONNECTED {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeInterval)
		_, err := s.stream.Info(ctx)
		cancel()
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.probing = false
		was := s.pubErr
		s.pubErr = nil
		s.mu.Unlock()
		if was != nil {
			s.log.Info("stream: JetStream answers again", "url", s.url, "stream", s.cfg.Stream)
		}
		return
	}
}

// apiErr wraps err from a JetStream call with what failed and the URL,
// adding ErrUnavailable when the cause is the server's availability, or
// ErrClosed after Close.
func (s *Stream) apiErr(what string, err error) error {
	if errors.Is(err, nats.ErrConnectionClosed) && s.isClosed() {
		return fmt.Errorf("%w: %s: %w", ErrClosed, what, err)
	}
	if isUnavailable(err) {
		return fmt.Errorf("%w: %s at %s: %w", ErrUnavailable, what, s.url, err)
	}
	return fmt.Errorf("stream: %s at %s: %w", what, s.url, err)
}

// isUnavailable reports whether err says the server or JetStream cannot
// answer now, as opposed to refusing the request.
func isUnavailable(err error) bool {
	switch {
	case errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrNoServers),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrStaleConnection),
		errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout),
		errors.Is(err, jetstream.ErrTooManyStalledMsgs),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code >= 500 {
		return true
	}
	var netErr interface{ Timeout() bool }
	return errors.As(err, &netErr) && netErr.Timeout()
}

// LastSeq returns the stream's last sequence: the LSN of the last record
// stored, 0 for an empty stream.
func (s *Stream) LastSeq(ctx context.Context) (uint64, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, s.apiErr(fmt.Sprintf("cannot read stream %s", s.cfg.Stream), err)
	}
	return info.State.LastSeq, nil
}

// FirstSeq returns the stream's first sequence: the LSN of the first
// record it still stores (its limits remove older ones), the last
// sequence plus one for an empty stream.
func (s *Stream) FirstSeq(ctx context.Context) (uint64, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, s.apiErr(fmt.Sprintf("cannot read stream %s", s.cfg.Stream), err)
	}
	if info.State.Msgs == 0 {
		return info.State.LastSeq + 1, nil
	}
	return info.State.FirstSeq, nil
}

// Health returns nil while the Stream is connected and its last publish
// did not fail. Otherwise it returns an error wrapping ErrUnavailable
// that says what is wrong (disconnected and reconnecting, or the last
// publish's error until a publish or a probe of JetStream, every second,
// succeeds), or ErrClosed. A publish that ran out of its ctx while
// waiting for its ack does not count as failed: the caller's budget
// ended, not necessarily the server's health.
func (s *Stream) Health() error {
	s.mu.Lock()
	closed, pubErr := s.closed, s.pubErr
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if st := s.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("%w: not connected to NATS at %s (%s)", ErrUnavailable, s.url, st)
	}
	if pubErr != nil {
		if errors.Is(pubErr, ErrUnavailable) {
			return pubErr
		}
		return fmt.Errorf("%w: last publish failed: %w", ErrUnavailable, pubErr)
	}
	return nil
}

// Conn returns the Stream's NATS connection, for the cluster path's other
// users of the same server. Closing it closes the Stream's too.
func (s *Stream) Conn() *nats.Conn { return s.nc }

// JetStream returns the Stream's JetStream context.
func (s *Stream) JetStream() jetstream.JetStream { return s.js }

// Close refuses new publishes, waits up to 5 s for the acknowledgements
// of those in flight, and closes the connection. Records and pending
// Publishes return ErrClosed. A second Close returns ErrClosed.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	t := time.NewTimer(closeWait)
	select {
	case <-s.js.PublishAsyncComplete():
	case <-t.C:
		s.log.Warn("stream: closing with publishes still awaiting their ack", "pending", s.js.PublishAsyncPending())
	}
	t.Stop()
	close(s.done)
	s.nc.Close()
	return nil
}

func (s *Stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// redactURL replaces the password of each URL in a comma-separated list.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				p = u.Redacted()
			} else {
				p = strings.Replace(p, u.User.String()+"@", "xxxxx@", 1) // a token or user alone
			}
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
