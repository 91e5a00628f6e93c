package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/internal/jsonerror"
	"github.com/fieldseal/fieldseal/internal/requestid"
	"github.com/fieldseal/fieldseal/transform"
)

// KeySource gives the current key ring; *keycache.Cache implements it. A
// nil ring means keys are not loaded yet: calls answer 503.
type KeySource interface {
	Keyring() *crypto.Keyring
}

// Operations: the last segment of each path the API serves, and the
// operation label of its metrics and audit events.
const (
	OpSeal   = "seal"
	OpOpen   = "open"
	OpLookup = "lookup"
)

// Paths maps each path the API serves to its operation; every one takes
// POST only.
var Paths = map[string]string{
	"/v1/seal":   OpSeal,
	"/v1/open":   OpOpen,
	"/v1/lookup": OpLookup,
}

// Defaults for zero Options fields.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultBodyTimeout  = 30 * time.Second
	DefaultMaxItems     = 1000
	// MaxFieldsPerItem bounds the field list of one document item.
	MaxFieldsPerItem = 64
)

// Options configure an API. Routes and Keys are required.
type Options struct {
	// Routes is the compiled field map: its classes and routes are what
	// items name. SetMap replaces it at run time.
	Routes *fieldmap.Map
	// Keys gives the key ring for every call (lock-free). If it is also a
	// transform.KeyRefresher, a value naming a key the ring lacks triggers
	// one on-demand refresh per call before it counts as not opening.
	Keys KeySource
	// Authenticator identifies callers; nil refuses every call with 401.
	Authenticator Authenticator
	// Masker renders values for transform.ActionMask; nil shows "fsm:***".
	Masker transform.Masker
	// MaxBodyBytes bounds a call's body (default 1 MiB): larger is 413.
	MaxBodyBytes int64
	// BodyTimeout bounds reading a call's body (default 30s): slower is 408.
	BodyTimeout time.Duration
	// MaxItems bounds the items of one call (default 1000).
	MaxItems int

	Logger     zerolog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
	Now        func() time.Time      // nil: time.Now
	// Observer receives the audit event of every call to an operation,
	// synchronously once its answer was written; nil records none.
	Observer func(audit.Event)
}

// API is the http.Handler of the API listener. Create it with New.
type API struct {
	cat         atomic.Pointer[catalog]
	keys        KeySource
	refresher   transform.KeyRefresher // nil when keys is not a KeyRefresher
	auth        Authenticator
	masker      transform.Masker
	maxBody     int64
	bodyTimeout time.Duration
	maxItems    int
	log         zerolog.Logger
	now         func() time.Time
	observer    func(audit.Event)
	metrics     *metrics
	ids         *requestid.Generator
}

// New builds an API. It fails on missing required options.
func New(opts Options) (*API, error) {
	switch {
	case opts.Routes == nil:
		return nil, errors.New("new api: no field map")
	case opts.Keys == nil:
		return nil, errors.New("new api: no key source")
	}
	a := &API{
		keys:        opts.Keys,
		auth:        opts.Authenticator,
		masker:      opts.Masker,
		maxBody:     opts.MaxBodyBytes,
		bodyTimeout: opts.BodyTimeout,
		maxItems:    opts.MaxItems,
		log:         opts.Logger,
		now:         opts.Now,
		observer:    opts.Observer,
		metrics:     newMetrics(opts.Registerer),
		ids:         requestid.NewGenerator(),
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if a.bodyTimeout <= 0 {
		a.bodyTimeout = DefaultBodyTimeout
	}
	if a.maxItems <= 0 {
		a.maxItems = DefaultMaxItems
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.refresher, _ = opts.Keys.(transform.KeyRefresher)
	a.cat.Store(newCatalog(opts.Routes))
	return a, nil
}

// SetMap swaps the field map; calls already running keep the old one.
func (a *API) SetMap(m *fieldmap.Map) {
	if m != nil {
		a.cat.Store(newCatalog(m))
	}
}

// call is what one call gathers for its answer, metrics and audit event.
type call struct {
	id       string
	op       string
	callerID string
	items    int
	results  map[string]int // "ok" or item error code -> items
	st       transform.Stats
	refresh  transform.Refresh
	status   int
	err      *errorClass
	reason   string
}

// ServeHTTP serves one call.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := a.now()
	c := &call{id: a.ids.FromHeader(r.Header.Get(requestid.Header)), op: opNone, results: map[string]int{}}
	w.Header().Set(requestid.Header, c.id)
	defer a.finish(r, c, start)
	if err := a.serve(w, r, c); err != nil {
		cl := classify(err)
		c.err, c.status, c.reason = &cl, cl.Status, auditReason(err)
		ev := a.log.Warn()
		if cl.Status >= 500 {
			ev = a.log.Error()
		}
		ev.Str("event", "api_call_failed").Str("request_id", c.id).Str("operation", c.op).Str("code", cl.Code).
			Int("status", cl.Status).Err(err).Msg("api call failed")
		writeError(w, cl, err, c.id)
	}
}

// serve runs a call up to its answer; an error means nothing was written.
func (a *API) serve(w http.ResponseWriter, r *http.Request, c *call) error {
	op, ok := Paths[r.URL.Path]
	if !ok {
		return fmt.Errorf("no operation at this path (the API serves %s): %w", strings.Join(pathList(), ", "), ErrNotFound)
	}
	c.op = op
	if r.Method != http.MethodPost {
		return fmt.Errorf("%s takes POST, not %s: %w", r.URL.Path, strconv.Quote(r.Method), ErrMethodNotAllowed)
	}
	ring := a.keys.Keyring()
	if ring == nil {
		return fmt.Errorf("%s: %w", op, jsonerror.ErrKeysUnavailable)
	}
	caller, err := a.authenticate(r)
	if err != nil {
		return err
	}
	c.callerID = caller.ID()
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	items, err := a.parseBatch(body)
	if err != nil {
		return err
	}
	c.items = len(items)
	if a.refresher != nil {
		c.refresh = transform.Refresh{Keys: a.refresher, Ctx: r.Context()}
	}
	_, unauthenticated := a.auth.(Anonymous)
	p := processor{cat: a.cat.Load(), ring: ring, caller: caller, masker: a.masker, c: c, unauthenticated: unauthenticated}
	out := make([]byte, 0, 2*len(body)+64)
	out = append(out, `{"request_id":`...)
	out = appendString(out, c.id)
	out = append(out, `,"items":[`...)
	for i, raw := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = p.item(out, op, raw)
	}
	out = append(out, "]}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	c.status = http.StatusOK
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return nil
}

func pathList() []string {
	return []string{"POST /v1/seal", "POST /v1/open", "POST /v1/lookup"}
}

// authenticate identifies the caller; errors carry their category.
func (a *API) authenticate(r *http.Request) (Caller, error) {
	if a.auth == nil {
		return nil, fmt.Errorf("authenticate caller: %w: the API has no authenticator", jsonerror.ErrUnauthenticated)
	}
	caller, err := a.auth.Authenticate(r)
	switch {
	case err != nil && errors.Is(err, transform.ErrForbidden):
		return nil, fmt.Errorf("authenticate caller: %w", err)
	case err != nil:
		return nil, fmt.Errorf("authenticate caller: %w: %w", jsonerror.ErrUnauthenticated, err)
	case caller == nil:
		return nil, fmt.Errorf("authenticate caller: %w: no caller", jsonerror.ErrUnauthenticated)
	}
	return caller, nil
}

// readBody reads a call's JSON body whole, bounded by MaxBodyBytes and
// BodyTimeout, as the proxy reads a protected request body.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if !isJSON(ct) {
		if ct == "" {
			return nil, fmt.Errorf("request body has no content type, want application/json: %w", jsonerror.ErrUnsupportedMediaType)
		}
		return nil, fmt.Errorf("request content type %q is not JSON: %w", ct, jsonerror.ErrUnsupportedMediaType)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, fmt.Errorf("content encoding %q: the API takes identity bodies: %w", ce, jsonerror.ErrUnsupportedEncoding)
	}
	if r.ContentLength > a.maxBody {
		return nil, fmt.Errorf("read request body of %d bytes (limit %d): %w", r.ContentLength, a.maxBody, jsonerror.ErrBodyTooLarge)
	}
	// A client dribbling its body must not hold the call (and its buffer)
	// forever. Writers that cannot set deadlines (tests) skip it.
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(a.bodyTimeout)) == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return nil, fmt.Errorf("read request body (limit %d bytes): %w", a.maxBody, jsonerror.ErrBodyTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// net/http would otherwise try to read the rest of the body to
		// keep the connection, and wait for a client that sends no more
		// before the answer goes out.
		w.Header().Set("Connection", "close")
		return nil, fmt.Errorf("read request body (timeout %s): %w", a.bodyTimeout, jsonerror.ErrRequestTimeout)
	case err != nil:
		w.Header().Set("Connection", "close")
		return nil, fmt.Errorf("%w: %w", jsonerror.ErrReadBody, err)
	}
	return body, nil
}

// isJSON reports whether a Content-Type is application/json or +json.
func isJSON(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	const app, suffix = "application/json", "+json"
	return strings.EqualFold(ct, app) ||
		(len(ct) > len(suffix) && strings.EqualFold(ct[len(ct)-len(suffix):], suffix) && strings.IndexByte(ct, '/') > 0)
}

// finish counts the call and records its audit event.
func (a *API) finish(r *http.Request, c *call, start time.Time) {
	latency := a.now().Sub(start)
	outcome := outcomeOK
	switch {
	case c.err != nil:
		outcome = c.err.Code
	case c.results[outcomeOK] != c.items:
		outcome = outcomeItemError
	}
	a.metrics.observe(c.callerID, c.op, outcome, latency.Seconds(), c.results, &c.st)
	if a.observer == nil || c.op == opNone {
		return
	}
	a.observer(c.auditEvent(r.Method, latency))
}

// auditEvent is the call's audit record: per class the operations applied
// (seal for writes, the caller's action for reads) and the number of
// values, the key ids, item errors by code and the outcome. A call that
// failed as a whole has the proxy's outcomes (unauthenticated, denied,
// rejected, error) with its code as reason; a served call is ok, or has its
// worst item's outcome with that item's code as reason.
func (c *call) auditEvent(method string, latency time.Duration) audit.Event {
	ev := audit.Event{
		Type: audit.TypeAPI, RequestID: c.id, Caller: c.callerID, Method: method, Operation: c.op,
		Items: c.items, KeyIDs: c.st.KeyIDs, Status: c.status, Latency: latency,
	}
	for _, f := range c.st.Fields {
		act := f.Action.String()
		if f.Op == transform.OpSeal {
			act = transform.OpSeal
		}
		ev.AddField(f.Class, f.Count, act)
	}
	switch {
	case c.err != nil && c.err.Code == "unauthenticated":
		ev.Outcome, ev.Reason = audit.OutcomeUnauthenticated, c.err.Code
		if c.reason != "" {
			ev.Reason = c.reason // expired, missing, bad_signature, ...
		}
	case c.err != nil && c.err.Code == "forbidden":
		ev.Outcome, ev.Reason = audit.OutcomeDenied, c.err.Code
	case c.err != nil && c.err.Status >= 400 && c.err.Status < 500:
		ev.Outcome, ev.Reason = audit.OutcomeRejected, c.err.Code
	case c.err != nil:
		ev.Outcome, ev.Reason = audit.OutcomeError, c.err.Code
	default:
		ev.Outcome = audit.OutcomeOK
		worst := 0
		for code, n := range c.results {
			if code == outcomeOK {
				continue
			}
			if ev.Errors == nil {
				ev.Errors = map[string]int{}
			}
			ev.Errors[code] = n
			outcome, rank := itemOutcome(code)
			if rank > worst || (rank == worst && code < ev.Reason) {
				worst, ev.Outcome, ev.Reason = rank, outcome, code
			}
		}
	}
	return ev
}

// auditReason returns the bounded reason an error carries for the audit
// trail (an auth failure's "expired", "missing", ...); "" when none.
func auditReason(err error) string {
	var r interface{ AuditReason() string }
	if errors.As(err, &r) {
		return r.AuditReason()
	}
	return ""
}
