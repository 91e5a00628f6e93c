package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/rewrite"
	"github.com/fieldseal/fieldseal/transform"
)

// KeySource gives the current key ring; *keycache.Cache implements it. A nil
// ring means keys are not loaded yet: protected routes answer 503.
type KeySource interface {
	Keyring() *crypto.Keyring
}

// Defaults for zero Options fields.
const (
	DefaultMaxBodyBytes        = 1 << 20
	DefaultUpstreamTimeout     = 30 * time.Second
	DefaultBodyTimeout         = 30 * time.Second
	DefaultDialTimeout         = 5 * time.Second
	DefaultTLSHandshakeTimeout = 10 * time.Second
	DefaultMaxIdleConns        = 1024
	DefaultMaxIdleConnsPerHost = 256
	DefaultIdleConnTimeout     = 90 * time.Second
)

// Options configure a Proxy. Upstream, Routes and Keys are required.
type Options struct {
	// Upstream is where every request goes (scheme, host and an optional
	// base path, joined as httputil.ProxyRequest.SetURL does).
	Upstream *url.URL
	// Routes is the compiled field map; SetMap replaces it at run time.
	Routes *fieldmap.Map
	// Keys gives the key ring for every request (lock-free). If it is also
	// a transform.KeyRefresher, a value naming a key the ring lacks triggers
	// one on-demand refresh per request before it counts as not opening.
	Keys KeySource
	// Authenticator identifies callers of protected routes. Nil means no
	// authentication: every caller may write and decrypt every class.
	Authenticator Authenticator
	// Masker renders values for transform.ActionMask; nil shows "fsm:***".
	Masker transform.Masker
	// LeaveSealedOnOpenError leaves a sealed response value that does not
	// open as it is (counted) instead of answering 502 (on_open_error:
	// sealed in the configuration).
	LeaveSealedOnOpenError bool
	// PreserveHost forwards the client's Host header instead of the upstream's.
	PreserveHost bool

	// MaxBodyBytes bounds protected request and response bodies, before and
	// after decompression (default 1 MiB). Unprotected bodies are streamed
	// and not bounded.
	MaxBodyBytes int64
	// UpstreamTimeout bounds the wait for the upstream's response headers
	// (default 30s); past it the client gets 504.
	UpstreamTimeout time.Duration
	// BodyTimeout bounds reading a protected body whole: the request body
	// from the client (408) and the response body from the upstream (504).
	// Default 30s. Unprotected bodies stream and are bounded by the
	// http.Server's own timeouts.
	BodyTimeout         time.Duration
	DialTimeout         time.Duration // default 5s
	TLSHandshakeTimeout time.Duration // default 10s
	MaxIdleConns        int           // default 1024
	MaxIdleConnsPerHost int           // default 256
	IdleConnTimeout     time.Duration // default 90s
	// TLSClientConfig is used for https upstreams (nil: system roots).
	TLSClientConfig *tls.Config

	Logger     zerolog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
	Now        func() time.Time      // nil: time.Now
	// Observer is called once per request to a protected route, after the
	// response was written (issue 4 turns it into the audit log).
	Observer func(RequestEvent)
	// ErrorBody shapes the bodies of errors the proxy answers itself
	// (ErrorsSpec.Compile); nil: fieldseal's {"error":{..}}.
	ErrorBody ErrorBody
}

// Proxy is an http.Handler that forwards to Options.Upstream and transforms
// protected JSON bodies. Create it with New.
type Proxy struct {
	routes      atomic.Pointer[fieldmap.Map]
	keys        KeySource
	refresher   transform.KeyRefresher // nil when keys is not a KeyRefresher
	auth        Authenticator
	masker      transform.Masker
	keepOnError bool
	maxBody     int64
	bodyTimeout time.Duration
	log         zerolog.Logger
	now         func() time.Time
	observer    func(RequestEvent)
	metrics     *metrics
	transport   *http.Transport
	rp          *httputil.ReverseProxy
	upstream    *url.URL
	preserve    bool
	bufs        bufferPool
	copyBufs    copyBufferPool
	ids         *requestIDs
	errorBody   ErrorBody
}

// New builds a Proxy. It fails on missing required options or a metrics
// registration conflict.
func New(opts Options) (*Proxy, error) {
	switch {
	case opts.Upstream == nil || opts.Upstream.Scheme == "" || opts.Upstream.Host == "":
		return nil, errors.New("new proxy: upstream must be an absolute URL")
	case opts.Upstream.Scheme != "http" && opts.Upstream.Scheme != "https":
		return nil, fmt.Errorf("new proxy: upstream scheme %q is not http or https", opts.Upstream.Scheme)
	case opts.Routes == nil:
		return nil, errors.New("new proxy: no field map")
	case opts.Keys == nil:
		return nil, errors.New("new proxy: no key source")
	}
	p := &Proxy{
		keys:        opts.Keys,
		auth:        opts.Authenticator,
		masker:      opts.Masker,
		maxBody:     orDefault(opts.MaxBodyBytes, DefaultMaxBodyBytes),
		bodyTimeout: orDefault(opts.BodyTimeout, DefaultBodyTimeout),
		log:         opts.Logger,
		now:         opts.Now,
		observer:    opts.Observer,
		upstream:    opts.Upstream,
		preserve:    opts.PreserveHost,
		keepOnError: opts.LeaveSealedOnOpenError,
		ids:         newRequestIDs(),
		errorBody:   opts.ErrorBody,
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.refresher, _ = opts.Keys.(transform.KeyRefresher)
	p.metrics = newMetrics(opts.Registerer)
	p.routes.Store(opts.Routes)

	dialer := &net.Dialer{Timeout: orDefault(opts.DialTimeout, DefaultDialTimeout), KeepAlive: 30 * time.Second}
	p.transport = &http.Transport{
		// A sidecar talks to its upstream directly: HTTP(S)_PROXY from the
		// environment is deliberately ignored.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       opts.TLSClientConfig,
		TLSHandshakeTimeout:   orDefault(opts.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout),
		ResponseHeaderTimeout: orDefault(opts.UpstreamTimeout, DefaultUpstreamTimeout),
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          orDefault(opts.MaxIdleConns, DefaultMaxIdleConns),
		MaxIdleConnsPerHost:   orDefault(opts.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost),
		IdleConnTimeout:       orDefault(opts.IdleConnTimeout, DefaultIdleConnTimeout),
		ForceAttemptHTTP2:     opts.Upstream.Scheme == "https",
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewriteRequest,
		Transport:      p.transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       log.New(opts.Logger.With().Str("component", "reverseproxy").Logger(), "", 0),
		// Without a pool ReverseProxy allocates a 32 KB buffer per body it
		// copies (every unprotected request and every response).
		BufferPool: &p.copyBufs,
		// FlushInterval 0: ReverseProxy flushes streaming responses
		// (text/event-stream, unknown length) immediately by itself.
	}
	return p, nil
}

func orDefault[T int | int64 | time.Duration](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

// SetMap swaps the field map; requests already running keep the old one.
func (p *Proxy) SetMap(m *fieldmap.Map) {
	if m != nil {
		p.routes.Store(m)
	}
}

// CloseIdleConnections closes idle upstream connections (on shutdown).
func (p *Proxy) CloseIdleConnections() { p.transport.CloseIdleConnections() }

// reqState is what the ReverseProxy hooks know about a request: they only
// receive the outgoing request, so it travels in the context. States are
// pooled (statePool): every hook that reads one runs inside
// ReverseProxy.ServeHTTP, so nothing holds a state once ServeHTTP returns.
type reqState struct {
	id    string
	route *fieldmap.Route
	resp  *transform.Transform // response transform; nil when not protected
	reqT  transform.Transform  // storage for the request transform
	respT transform.Transform  // storage for resp
	// refresh is the request's one on-demand key refresh, shared by the
	// request and response transforms.
	refresh transform.Refresh
	status  int
	err     *errorClass
	reason  string // bounded detail of err for the audit trail (an auth reason)
	// sealedBody is the sealed request body sealRequest set as r.Body; the
	// Rewrite hook hands it to the transport unwrapped (see rewriteRequest).
	sealedBody io.ReadCloser
	st         transform.Stats
	// statBuf backs st.Fields: a route rarely has more classes, ops and
	// results than this, so recording them allocates nothing.
	statBuf [8]transform.FieldStat
	keyBuf  [4]uint32 // backs st.KeyIDs
}

var statePool = sync.Pool{New: func() any { return new(reqState) }}

func getState() *reqState {
	rs := statePool.Get().(*reqState)
	rs.st = transform.Stats{Fields: rs.statBuf[:0], KeyIDs: rs.keyBuf[:0]}
	return rs
}

// putState recycles rs; the caller must not use it afterwards.
func putState(rs *reqState) {
	*rs = reqState{}
	statePool.Put(rs)
}

// keyRefresh returns the request's key refresh allowance, or nil when the
// key source cannot refresh on demand.
func (rs *reqState) keyRefresh(r *http.Request, keys transform.KeyRefresher) *transform.Refresh {
	if keys == nil {
		return nil
	}
	rs.refresh = transform.Refresh{Keys: keys, Ctx: r.Context()}
	return &rs.refresh
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	rs, _ := ctx.Value(stateKey{}).(*reqState)
	return rs
}

// ServeHTTP forwards r, transforming protected bodies.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := p.now()
	rs := getState()
	defer putState(rs)
	rs.id = r.Header.Get(HeaderRequestID)
	if !saneRequestID(rs.id) {
		rs.id = p.ids.newID()
	}
	rs.route = p.match(r)
	// Deferred, so that a request the ReverseProxy aborts (panicking with
	// http.ErrAbortHandler when the client goes away) is still counted and
	// audited.
	if rs.route == nil {
		defer func() {
			p.metrics.observe(unmatchedRoute, "", rs.outcome(outcomeForwarded), p.now().Sub(start).Seconds(), nil)
		}()
		p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, rs)))
		return
	}
	callerID := ""
	defer func() { p.finish(r, rs, callerID, start) }()
	if err := p.prepare(w, r, rs, &callerID); err != nil {
		c := classify(err)
		rs.fail(c)
		rs.reason = auditReason(err)
		p.logError(rs, c, err)
		w.Header().Set(HeaderRequestID, rs.id)
		writeError(w, p.errorBody, c, err, rs.id)
		return
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, rs)))
}

// prepare runs everything that must succeed before a protected request may be
// forwarded: keys, caller, context, and the request body transform.
func (p *Proxy) prepare(w http.ResponseWriter, r *http.Request, rs *reqState, callerID *string) error {
	route := rs.route
	ring := p.keys.Keyring()
	if ring == nil {
		return fmt.Errorf("route %q: %w", route.Name, ErrKeysUnavailable)
	}
	var caller Caller = anonymous{}
	if p.auth != nil {
		c, err := p.auth.Authenticate(r)
		switch {
		case err != nil && errors.Is(err, transform.ErrForbidden):
			return fmt.Errorf("authenticate caller: %w", err)
		case err != nil:
			return fmt.Errorf("authenticate caller: %w: %w", ErrUnauthenticated, err)
		case c == nil:
			return fmt.Errorf("authenticate caller: %w: no caller", ErrUnauthenticated)
		}
		caller = c
	}
	*callerID = caller.ID()
	var aadContext string
	if route.ContextHeader != "" {
		aadContext = r.Header.Get(route.ContextHeader)
		if aadContext == "" {
			return fmt.Errorf("route %q needs header %s: %w", route.Name, route.ContextHeader, ErrMissingContext)
		}
	}
	if route.Request != nil {
		if r.Header.Get("Upgrade") != "" {
			return fmt.Errorf("route %q seals request fields and cannot be upgraded to %q: %w", route.Name, r.Header.Get("Upgrade"), ErrUpgradeRefused)
		}
		t := &rs.reqT
		t.Reset(transform.Params{
			Ring: ring, Side: route.Request, Caller: caller, Context: aadContext,
			Masker: p.masker, Refresh: rs.keyRefresh(r, p.refresher), Stats: &rs.st,
		})
		if err := p.sealRequest(w, r, rs, t); err != nil {
			return err
		}
		ring = t.Ring() // refreshed if a value sent sealed needed it
	}
	if route.Response != nil {
		// A byte range of a JSON document is not JSON: ask for the whole
		// representation so it can be transformed.
		r.Header.Del("Range")
		r.Header.Del("If-Range")
		rs.resp = &rs.respT
		rs.resp.Reset(transform.Params{
			Ring: ring, Side: route.Response, Caller: caller, Context: aadContext,
			Masker: p.masker, LeaveSealedOnOpenError: p.keepOnError, Refresh: rs.keyRefresh(r, p.refresher), Stats: &rs.st,
		})
	}
	return nil
}

// headers that describe the exact bytes of a body and become wrong once the
// body is rewritten.
var bodyDigestHeaders = []string{"Content-Md5", "Digest", "Content-Digest", "Repr-Digest"}

// sealRequest replaces r.Body with its sealed form. The body is read whole
// (bounded by MaxBodyBytes), decoded, validated and sealed in one pass into a
// pooled buffer, and forwarded identity-encoded with an exact Content-Length.
func (p *Proxy) sealRequest(w http.ResponseWriter, r *http.Request, rs *reqState, t *transform.Transform) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil // DELETE, PATCH without body, ...: nothing to seal
	}
	ct := r.Header.Get("Content-Type")
	if r.ContentLength > 0 && !isJSON(ct) {
		return contentTypeError(ct)
	}
	if r.ContentLength > p.maxBody {
		return fmt.Errorf("read request body of %d bytes (limit %d): %w", r.ContentLength, p.maxBody, ErrBodyTooLarge)
	}
	codings, err := parseCodings(r.Header.Values("Content-Encoding"))
	if err != nil {
		return err
	}
	// A client dribbling a protected body must not hold the request (and
	// its buffer) forever. Unsupported writers (tests) just skip it.
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(p.bodyTimeout)) == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	in := p.bufs.get()
	defer p.bufs.put(in)
	var body io.Reader = http.MaxBytesReader(w, r.Body, p.maxBody)
	if body, err = decoder(body, codings); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	doc, err := readLimited((*in)[:0], body, p.maxBody, r.ContentLength)
	*in = doc[:0]
	switch {
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("read request body (limit %d bytes): %w", p.maxBody, ErrBodyTooLarge)
	case isMaxBytes(err):
		return fmt.Errorf("read request body (limit %d bytes): %w", p.maxBody, ErrBodyTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("read request body (timeout %s): %w", p.bodyTimeout, ErrRequestTimeout)
	case err != nil && len(codings) > 0:
		return fmt.Errorf("decode request body: %w: %w", ErrInvalidJSON, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrReadBody, err)
	}
	if len(doc) == 0 {
		r.Body, r.ContentLength = http.NoBody, 0
		r.Header.Del("Content-Encoding")
		return nil
	}
	if !isJSON(ct) {
		return contentTypeError(ct)
	}
	p.metrics.reqBytes.Observe(float64(len(doc)))
	// Apply validates the document in the same pass; a failure other than
	// a field's own (which carries its category) is the document's.
	out := p.bufs.get()
	sealed, err := t.Seal((*out)[:0], doc)
	*out = sealed
	if err != nil {
		p.bufs.put(out)
		var fe *transform.FieldError
		switch {
		case errors.As(err, &fe):
			return err
		case errors.Is(err, rewrite.ErrInvalidJSON):
			return fmt.Errorf("parse request body: %w", ErrInvalidJSON)
		default: // overlapping wildcard matches, pathological patterns
			return fmt.Errorf("match protected paths in request body: %w: %w", ErrAmbiguousFields, err)
		}
	}
	// The sealed body leaves the pool in a buffer of its own: the transport
	// may still read it after the round trip (RoundTrip may close a body
	// later, from another goroutine), and as a *bytes.Reader it is one the
	// transport knows is in memory, so headers and body go to the upstream
	// in one write instead of two (see rewriteRequest).
	fwd := bytes.Clone(sealed)
	p.bufs.put(out)
	r.Body = io.NopCloser(bytes.NewReader(fwd))
	rs.sealedBody = r.Body
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(fwd)), nil }
	r.ContentLength = int64(len(fwd))
	r.TransferEncoding = nil
	r.Header.Del("Content-Encoding")
	// The transport frames the body by r.ContentLength and never sends a
	// Content-Length header field of the request's own.
	r.Header.Del("Content-Length")
	for _, h := range bodyDigestHeaders {
		r.Header.Del(h)
	}
	return nil
}

func isMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

func contentTypeError(ct string) error {
	if ct == "" {
		return fmt.Errorf("request body has no content type, want application/json: %w", ErrUnsupportedMediaType)
	}
	return fmt.Errorf("request content type %q is not JSON: %w", ct, ErrUnsupportedMediaType)
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

// match finds the route protecting r; fieldmap.Lookup decides, under every
// reading of the request the upstream may apply.
func (p *Proxy) match(r *http.Request) *fieldmap.Route {
	return p.routes.Load().Lookup(r.Method, r.URL.Path, r.Header.Get)
}

// rewriteRequest is ReverseProxy's Rewrite hook. ReverseProxy has already
// removed hop-by-hop headers and any client-sent X-Forwarded-* from pr.Out.
func (p *Proxy) rewriteRequest(pr *httputil.ProxyRequest) {
	pr.SetURL(p.upstream)
	pr.SetXForwarded()
	if p.preserve {
		pr.Out.Host = pr.In.Host
	}
	if rs := stateFrom(pr.In.Context()); rs != nil {
		pr.Out.Header.Set(HeaderRequestID, rs.id)
		if rs.sealedBody != nil {
			// ReverseProxy wrapped the body so that the transport cannot
			// close the client's; the sealed body is ours and in memory,
			// and unwrapped the transport sees that and sends it with the
			// headers in one write rather than flushing them first.
			pr.Out.Body = rs.sealedBody
		}
	}
}

// modifyResponse is ReverseProxy's ModifyResponse hook: it tags the response
// with the request id and, on protected routes, transforms 2xx JSON bodies.
// An error it returns reaches errorHandler; nothing has been written yet.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	rs := stateFrom(resp.Request.Context())
	if rs == nil {
		return nil
	}
	resp.Header.Set(HeaderRequestID, rs.id)
	rs.status = resp.StatusCode
	if rs.resp == nil || resp.StatusCode < 200 || resp.StatusCode > 299 ||
		resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusPartialContent || resp.Request.Method == http.MethodHead ||
		!isJSON(resp.Header.Get("Content-Type")) {
		return nil
	}
	return p.openResponse(resp, rs.resp)
}

// openResponse replaces resp.Body with its transformed form, re-encoded with
// the upstream's Content-Encoding. Nothing of the body reaches the client
// unless the whole document was transformed.
func (p *Proxy) openResponse(resp *http.Response, t *transform.Transform) error {
	codings, err := parseCodings(resp.Header.Values("Content-Encoding"))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadUpstreamResponse, err)
	}
	if resp.ContentLength > p.maxBody {
		return fmt.Errorf("read response body of %d bytes (limit %d): %w", resp.ContentLength, p.maxBody, ErrResponseTooLarge)
	}
	// ResponseHeaderTimeout only covers the headers; an upstream dribbling
	// the body of a protected response is cut off here (504).
	var timedOut atomic.Bool
	timer := time.AfterFunc(p.bodyTimeout, func() {
		timedOut.Store(true)
		_ = resp.Body.Close()
	})
	defer timer.Stop()
	in := p.bufs.get()
	defer p.bufs.put(in)
	body, err := decoder(resp.Body, codings)
	if err != nil && timedOut.Load() {
		return fmt.Errorf("read response body (timeout %s): %w", p.bodyTimeout, ErrUpstreamTimeout)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadUpstreamResponse, err)
	}
	doc, err := readLimited((*in)[:0], body, p.maxBody, resp.ContentLength)
	*in = doc[:0]
	_ = resp.Body.Close()
	switch {
	case err != nil && timedOut.Load():
		return fmt.Errorf("read response body (timeout %s): %w", p.bodyTimeout, ErrUpstreamTimeout)
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("read response body (limit %d bytes): %w", p.maxBody, ErrResponseTooLarge)
	case err != nil:
		return fmt.Errorf("read response body: %w: %w", ErrBadUpstreamResponse, err)
	}
	p.metrics.respBytes.Observe(float64(len(doc)))
	if len(doc) == 0 {
		resp.Body = http.NoBody
		return nil
	}
	out := p.bufs.get()
	opened, err := t.Open((*out)[:0], doc)
	*out = opened
	if err != nil {
		p.bufs.put(out)
		var fe *transform.FieldError
		if errors.As(err, &fe) {
			return err
		}
		return fmt.Errorf("transform response body: %w: %w", ErrBadUpstreamResponse, err)
	}
	if len(codings) > 0 {
		var enc bytes.Buffer
		if err := encode(&enc, opened, codings); err != nil {
			p.bufs.put(out)
			return err
		}
		*out = append((*out)[:0], enc.Bytes()...)
	}
	resp.Body = newPooledBody(&p.bufs, out)
	resp.ContentLength = int64(len(*out))
	resp.TransferEncoding = nil
	resp.Header.Set("Content-Length", strconv.Itoa(len(*out)))
	if t.Changed() {
		for _, h := range bodyDigestHeaders {
			resp.Header.Del(h)
		}
		// The bytes differ from the upstream's representation (and between
		// callers with different actions), but are semantically the same
		// resource state: a weak validator still makes If-None-Match work.
		if et := resp.Header.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
			resp.Header.Set("Etag", "W/"+et)
		}
		if p.auth != nil {
			resp.Header.Add("Vary", "Authorization")
		}
	}
	return nil
}

// errorHandler is ReverseProxy's ErrorHandler: transport errors and errors
// from modifyResponse end here, before anything was written to w.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	c := classifyProxyError(err)
	rs := stateFrom(r.Context())
	id := ""
	if rs != nil {
		rs.fail(c)
		id = rs.id
		p.logError(rs, c, err)
	}
	w.Header().Set(HeaderRequestID, id)
	writeError(w, p.errorBody, c, err, id)
}

func (rs *reqState) fail(c errorClass) {
	rs.err = &c
	rs.status = c.status
}

func (rs *reqState) outcome(ok string) string {
	if rs.err != nil {
		return rs.err.code
	}
	return ok
}

func (p *Proxy) logError(rs *reqState, c errorClass, err error) {
	route := unmatchedRoute
	if rs.route != nil {
		route = rs.route.Name
	}
	ev := p.log.Warn()
	if c.status >= 500 {
		ev = p.log.Error()
	}
	ev.Str("request_id", rs.id).Str("route", route).Str("code", c.code).Int("status", c.status).Err(err).Msg("request failed")
}

// finish records metrics and the observer event of a protected request.
func (p *Proxy) finish(r *http.Request, rs *reqState, callerID string, start time.Time) {
	latency := p.now().Sub(start)
	outcome := rs.outcome("ok")
	p.metrics.observe(rs.route.Name, callerID, outcome, latency.Seconds(), &rs.st)
	if p.observer == nil {
		return
	}
	p.observer(RequestEvent{
		Time:      start,
		RequestID: rs.id,
		Route:     rs.route.Name,
		Method:    r.Method,
		CallerID:  callerID,
		Fields:    slices.Clone(rs.st.Fields), // rs goes back to the pool
		KeyIDs:    slices.Clone(rs.st.KeyIDs),
		Status:    rs.status,
		Outcome:   outcome,
		Reason:    rs.reason,
		Latency:   latency,
	})
}

// auditReason returns the bounded reason an error carries for the audit
// trail (an auth failure's "expired", "missing", ...), found by interface so
// that proxy does not import auth; "" when it carries none.
func auditReason(err error) string {
	var r interface{ AuditReason() string }
	if errors.As(err, &r) {
		return r.AuditReason()
	}
	return ""
}
