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
	"github.com/tidwall/gjson"

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
	DefaultMaxResponseBytes    = 16 << 20
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

	// MaxBodyBytes bounds request bodies the proxy reads (JSON and form
	// bodies, and each member part of a multipart form), before and after
	// decompression (default 1 MiB); larger ones get 413. Bodies of other
	// types are streamed and not bounded.
	MaxBodyBytes int64
	// MaxResponseBytes bounds the response bodies the proxy transforms,
	// after decompression (default 16 MiB): a larger answer to a read is
	// 502 response_too_large; a larger 2xx answer to a write is forwarded
	// untransformed (largeResponse), as the write was accepted.
	MaxResponseBytes int64
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
	// MaxBufferedBytes bounds the bytes all requests hold in body buffers at
	// once; past it a request gets 503 (busy). Zero or less: no bound.
	MaxBufferedBytes int64
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
	maxResp     int64
	bodyTimeout time.Duration
	log         zerolog.Logger
	now         func() time.Time
	observer    func(RequestEvent)
	metrics     *metrics
	transport   *http.Transport
	// untimedTransport is transport without a response-header timeout,
	// for routes with their own (routeTransport).
	untimedTransport *http.Transport
	rp               *httputil.ReverseProxy
	upstream         *url.URL
	preserve         bool
	bufs             bufferPool
	copyBufs         copyBufferPool
	ids              *requestIDs
	budget           *budget
	codecs           codecs
	errorBody        ErrorBody
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
		maxResp:     orDefault(opts.MaxResponseBytes, DefaultMaxResponseBytes),
		bodyTimeout: orDefault(opts.BodyTimeout, DefaultBodyTimeout),
		log:         opts.Logger,
		now:         opts.Now,
		observer:    opts.Observer,
		upstream:    opts.Upstream,
		preserve:    opts.PreserveHost,
		keepOnError: opts.LeaveSealedOnOpenError,
		ids:         newRequestIDs(),
		budget:      newBudget(opts.MaxBufferedBytes),
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
	p.untimedTransport = p.transport.Clone()
	p.untimedTransport.ResponseHeaderTimeout = 0
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewriteRequest,
		Transport:      routeTransport{p},
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
func (p *Proxy) CloseIdleConnections() {
	p.transport.CloseIdleConnections()
	p.untimedTransport.CloseIdleConnections()
}

// reqState is what the ReverseProxy hooks know about a request: they only
// receive the outgoing request, so it travels in the context. States are
// pooled (statePool): every hook that reads one runs inside
// ReverseProxy.ServeHTTP, so nothing holds a state once ServeHTTP returns.
type reqState struct {
	id    string
	route *fieldmap.Route
	// found are the routes a reading of the request reaches
	// (fieldmap.Map.LookupAll): route is the first of found.Routes, also
	// the others and those a POST body's _method names (routes.go). The
	// request is sealed, and its response opened, under each of them
	// after route, so that whichever the application takes gets no
	// plaintext of its fields. Backed by routeBuf and bodyBuf.
	found    fieldmap.Found
	also     []*fieldmap.Route
	routeBuf [4]*fieldmap.Route
	bodyBuf  [4]*fieldmap.Route
	// fmap is the field map the request was looked up in, hdr the lookup
	// of its header lines (CGI spellings included) every reading uses.
	fmap *fieldmap.Map
	hdr  headerLookup
	// caller, query (as sent) and ctx (route's AAD context) of the
	// request, kept for the passes under its other routes; queried counts
	// the routes of also whose query is sealed.
	caller   Caller
	query    string // r.URL.RawQuery as the client sent it
	ctx      string // the AAD context of route, from the header or path
	queried  int
	respAlso openChain // the response transforms of also's and unread's routes
	// unread are the routes a _method the proxy could not read (a
	// multipart part) may name: the response is opened under them too.
	unread []*fieldmap.Route
	resp   *transform.Transform // response transform; nil when not protected
	reqT   transform.Transform  // storage for the request transform
	respT  transform.Transform  // storage for resp
	// refresh is the request's one on-demand key refresh, shared by the
	// request and response transforms.
	refresh transform.Refresh
	status  int
	// okOutcome replaces "ok" as the outcome of a request that succeeded
	// with a note (largeResponse); "" for none.
	okOutcome string
	err       *errorClass
	reason    string // bounded detail of err for the audit trail (an auth reason)
	// sealedBody is the sealed request body sealRequest set as r.Body; the
	// Rewrite hook hands it to the transport unwrapped (see rewriteRequest).
	sealedBody io.ReadCloser
	// forwarded is the state of a large sealed body (buffers.go), whose
	// buffer the response may be read into once the round trip is over.
	forwarded *forwardedBody
	// matched is false for a request no route lists (route is then the
	// map's Unmatched route).
	matched bool
	// streamBody and streamDone belong to a body sealed as it streams (a
	// multipart form): ServeHTTP closes the one and waits for the other.
	streamBody io.Closer
	streamDone chan struct{}
	streamErr  error // set before streamDone is closed
	// respDone is closed when the goroutine transforming a streamed
	// response (streamResponse) is done with the request state.
	respDone chan struct{}
	// budget is what the request holds of the proxy's buffered-bytes
	// budget, given back when the request ends.
	budget held
	st     transform.Stats
	// statBuf backs st.Fields: a route rarely has more classes, ops and
	// results than this, so recording them allocates nothing. A write whose
	// answer echoes the document counts two per class (sealed, opened).
	statBuf [16]transform.FieldStat
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
	rs.budget.release()
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
	rs.id = headerGet(r.Header, HeaderRequestID)
	if !saneRequestID(rs.id) {
		rs.id = p.ids.newID()
	}
	rs.budget.b = p.budget
	m := p.routes.Load()
	rs.lookup(m, r)
	callerID := ""
	// Deferred, so that a request the ReverseProxy aborts (panicking with
	// http.ErrAbortHandler when the client goes away) is still counted and
	// audited.
	defer func() { p.finish(r, rs, callerID, start) }()
	if err := p.prepare(w, r, rs, m.Guard(), &callerID); err != nil {
		c := classify(err)
		rs.fail(c)
		rs.reason = auditReason(err)
		p.logError(rs, c, err)
		w.Header().Set(HeaderRequestID, rs.id)
		if errors.Is(err, ErrRequestTimeout) || errors.Is(err, ErrReadBody) || errors.Is(err, ErrBodyTooLarge) || errors.Is(err, ErrBusy) {
			// The rest of the body is still on the connection: net/http
			// would wait to drain it with no deadline (a client that
			// stalls holds the connection forever), so close instead.
			headerSet(w.Header(), hdrConnection, "close")
		}
		writeError(w, p.errorBody, c, err, rs.id)
		return
	}
	defer func() {
		// Also when ReverseProxy panics (a cut stream): it closed the
		// streamed response body first, which ends the goroutine
		// transforming it; rs must not go back to the pool before.
		if rs.respDone != nil {
			<-rs.respDone
		}
	}()
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, rs)))
	if rs.streamDone != nil {
		// A streamed sealed body: make sure its goroutine is done with the
		// request state before it goes back to the pool.
		_ = rs.streamBody.Close()
		<-rs.streamDone
	}
}

// prepare runs everything that must succeed before a request may be
// forwarded: refusing what the application could read differently, keys,
// caller, context, and the request body transform. Every request is
// guarded: one no route lists gets the map's Unmatched route, whose sides
// seal class members and open sealed values wherever they are.
func (p *Proxy) prepare(w http.ResponseWriter, r *http.Request, rs *reqState, guard fieldmap.GuardSpec, callerID *string) error {
	route := rs.route
	if err := refuseUpgrade(r, rs.pathRoute()); err != nil {
		return err
	}
	if err := rs.checkRewriteQuery(r); err != nil {
		return err
	}
	kind, err := requestBody(r)
	if err != nil {
		return err
	}
	if !rs.matched && guard.Unmatched == fieldmap.UnmatchedOff {
		kind = bodyNone // the operator opted out: forwarded as it is
	}
	ring := p.keys.Keyring()
	if ring == nil {
		if rs.matched || kind != bodyNone {
			return fmt.Errorf("route %q: %w", route.Name, ErrKeysUnavailable)
		}
		return nil // nothing to seal, nothing to open with: forwarded as it is
	}
	var caller Caller = anonymous{}
	var authErr error
	if p.auth != nil {
		c, err := p.auth.Authenticate(r)
		switch {
		case err != nil && errors.Is(err, transform.ErrForbidden):
			authErr = fmt.Errorf("authenticate caller: %w", err)
		case err != nil:
			authErr = fmt.Errorf("authenticate caller: %w: %w", ErrUnauthenticated, err)
		case c == nil:
			authErr = fmt.Errorf("authenticate caller: %w: no caller", ErrUnauthenticated)
		}
		switch {
		case authErr == nil:
			caller = c
		case rs.matched:
			return authErr
		default:
			// A request no route lists needs no caller until it carries a
			// class member (refused below with authErr) or reads a sealed
			// value (left sealed).
			caller = unauthenticated{}
		}
	}
	*callerID = caller.ID()
	rs.caller, rs.query = caller, r.URL.RawQuery
	aadContext, err := rs.routeContext(r, route)
	if err != nil {
		return err
	}
	rs.ctx = aadContext
	if err := p.sealQuery(r, route, &rs.st, ring, caller, aadContext, false); err != nil {
		return err
	}
	if err := p.sealQueryAlso(r, rs, ring); err != nil {
		return err
	}
	if kind != bodyNone {
		t := &rs.reqT
		t.Reset(transform.Params{
			Ring: ring, Side: route.Request, Caller: caller, Context: aadContext,
			Masker: p.masker, Refresh: rs.keyRefresh(r, p.refresher), Stats: &rs.st,
			AcceptSealed: guard.SealedWrites == fieldmap.SealedWritesAccept && p.auth == nil,
		})
		err := p.sealBody(w, r, rs, t, kind)
		if err != nil && authErr != nil && errors.Is(err, transform.ErrForbidden) {
			return authErr // a class member from a caller who is nobody
		}
		if err != nil {
			return err
		}
		if !rs.matched && guard.Unmatched == fieldmap.UnmatchedRefuse && rs.st.Sealed(transform.ViaMember) > 0 {
			return fmt.Errorf("%s %s is on no route and its body carries class members: %w", r.Method, r.URL.Path, ErrUnmatchedMember)
		}
		ring = t.Ring() // refreshed if a value sent sealed needed it
		// Routes the body's _method added: their query too.
		if err := p.sealQueryAlso(r, rs, ring); err != nil {
			return err
		}
	}
	rs.rewriteQuery(r)
	// The response may be opened: the upstream must answer it in a coding
	// the proxy decodes.
	acceptDecodable(r.Header)
	// Its ETag may be made weak: a client's If-Match with it must still
	// match the upstream's strong one (conditional.go).
	strongIfMatch(r.Header)
	rs.resp = &rs.respT
	rs.resp.Reset(transform.Params{
		Ring: ring, Side: route.Response, Caller: caller, Context: aadContext,
		Masker: p.masker, Refresh: rs.keyRefresh(r, p.refresher), Stats: &rs.st,
		// A request no route lists must not fail on a value that does not
		// open; it stays sealed, which is never plaintext.
		LeaveSealedOnOpenError: p.keepOnError || !rs.matched,
	})
	if err := p.openAlso(r, rs, ring); err != nil {
		return err
	}
	// A byte range of a JSON document is not JSON: ask for the whole
	// representation so it can be transformed (on every route for a caller
	// who may not read some class).
	if rs.matched || !rs.resp.OpensOnly() {
		delete(r.Header, hdrRange)
		delete(r.Header, hdrIfRange)
	}
	return nil
}

// sealBody replaces r.Body with its sealed form, by kind.
func (p *Proxy) sealBody(w http.ResponseWriter, r *http.Request, rs *reqState, t *transform.Transform, kind bodyKind) error {
	switch kind {
	case bodyJSON:
		return p.sealRequest(w, r, rs, t, false, nil)
	case bodyForm, bodyMultipart:
		if route := rs.pathRoute(); route != nil {
			// The route's paths name JSON values; a form cannot carry them
			// where fieldseal would find them.
			return contentTypeError(r.Header.Get("Content-Type"), route)
		}
		if kind == bodyForm {
			// Sniffed like any body not declared JSON: handlers that decode
			// JSON whatever the type (Go's, express.json({type: '*/*'}))
			// read a JSON body sent as a form, and form readers read it as
			// a form; a body that starts like JSON is sealed under both
			// readings (sealRequest), any other as a form.
			return p.sealRequest(w, r, rs, t, true, func() error { return p.sealForm(w, r, rs, t) })
		}
		return p.sealMultipart(r, rs, t)
	default: // bodyOther
		return p.sealRequest(w, r, rs, t, true, nil)
	}
}

// headers that describe the exact bytes of a body and become wrong once the
// body is rewritten.
var bodyDigestHeaders = []string{"Content-Md5", "Digest", "Content-Digest", "Repr-Digest"}

// sealRequest replaces r.Body with its sealed form. The body is read whole
// (bounded by MaxBodyBytes), decoded, validated and sealed in one pass into a
// pooled buffer, and forwarded identity-encoded with an exact Content-Length.
//
// With sniff the body was not declared JSON (another or no Content-Type):
// applications that parse JSON whatever the Content-Type says (Go's
// encoding/json handlers, body parsers set to accept any type) would still
// read it, so a body that starts like JSON is sealed as JSON, one in UTF-16
// or UTF-32 is refused, and anything else goes to notJSON (nil: forwarded
// as it came).
func (p *Proxy) sealRequest(w http.ResponseWriter, r *http.Request, rs *reqState, t *transform.Transform, sniff bool, notJSON func() error) error {
	if r.ContentLength > p.maxBody && !sniff {
		return fmt.Errorf("read request body of %d bytes (limits.max_body_bytes: %d): %w", r.ContentLength, p.maxBody, ErrBodyTooLarge)
	}
	codings, err := parseCodings(r.Header[hdrContentEncoding])
	if err != nil {
		return err
	}
	// A client dribbling a protected body must not hold the request (and
	// its buffer) forever. Unsupported writers (tests) just skip it.
	rc := http.NewResponseController(w)
	bodyTimeout := p.bodyTimeoutFor(rs)
	if rc.SetReadDeadline(time.Now().Add(bodyTimeout)) == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	in := p.bufs.get()
	defer p.bufs.put(in)
	var body io.Reader = r.Body
	if sniff && len(codings) > 0 {
		// Body parsers inflate a compressed body of any type: look at what
		// the application would read, and forward it decoded.
		if r.Body, err = decodingBody(r.Body, codings, &rs.budget); err != nil {
			return err
		}
		delete(r.Header, hdrContentEncoding)
		codings = nil
	}
	if sniff {
		looks, err := sniffJSON(r, p.maxBody, &rs.budget)
		switch {
		case err != nil:
			return err
		case !looks && rs.pathRoute() != nil:
			// The route's paths name JSON values: a body that is not JSON
			// cannot be checked for them.
			return contentTypeError(r.Header.Get("Content-Type"), rs.pathRoute())
		case !looks && notJSON != nil:
			return notJSON()
		case !looks:
			return nil
		}
		body = r.Body
	}
	body = http.MaxBytesReader(w, io.NopCloser(body), p.maxBody)
	if body, err = requestDecoder(body, codings, &rs.budget); err != nil {
		if errors.Is(err, ErrBusy) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	doc, err := readLimited((*in)[:0], body, p.maxBody, r.ContentLength, &rs.budget)
	*in = doc[:0]
	switch {
	case err == nil: // first: isMaxBytes allocates its target
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("read request body (limits.max_body_bytes: %d): %w", p.maxBody, ErrBodyTooLarge)
	case errors.Is(err, ErrBusy):
		return fmt.Errorf("read request body: %w", err)
	case isMaxBytes(err):
		return fmt.Errorf("read request body (limits.max_body_bytes: %d): %w", p.maxBody, ErrBodyTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("read request body (timeout %s): %w", bodyTimeout, ErrRequestTimeout)
	case err != nil && len(codings) > 0:
		return fmt.Errorf("decode request body: %w: %w", ErrInvalidJSON, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrReadBody, err)
	}
	if len(doc) == 0 {
		r.Body, r.ContentLength = http.NoBody, 0
		delete(r.Header, hdrContentEncoding)
		delete(r.Header, hdrExpect) // nothing left to ask permission for
		return nil
	}
	doc = bytes.TrimPrefix(doc, utf8BOM) // read by Jackson and others, refused by JSON validators
	if sniff && !gjson.ValidBytes(doc) {
		// It starts like JSON but is not: lenient parsers (trailing data
		// after the first value, as json.Decoder ignores it; comments)
		// would still read members fieldseal cannot find. Refused.
		return fmt.Errorf("request body starts like JSON but is not valid JSON: %w", ErrInvalidJSON)
	}
	if len(rs.found.ByBody) > 0 {
		// A POST: its body's _method may route it elsewhere.
		methods := func(yield func(string)) {
			jsonMethods(doc, yield)
			if notJSON != nil { // declared a form: a form reader's _method too
				fieldmap.MethodParams(string(doc), yield)
			}
		}
		if err := rs.addBodyRoutes(r, methods); err != nil {
			return err
		}
		if route := rs.pathRoute(); route != nil && notJSON != nil {
			// A form reader takes it to a route whose paths its form
			// reading cannot be checked for.
			return contentTypeError(r.Header.Get("Content-Type"), route)
		}
	}
	if m := rs.route.ContextMember; m != "" {
		if err := bindMember(t, doc, m); err != nil {
			return fmt.Errorf("route %q: %w", rs.route.Name, err)
		}
	}
	p.metrics.reqBytes.Observe(float64(len(doc)))
	// Apply validates the document in the same pass, and seals it in its
	// own buffer (buffers.go); a failure other than a field's own (which
	// carries its category) is the document's.
	sealed, err := t.Seal(doc[:0], doc)
	if err == nil && notJSON != nil {
		// Declared a form: sealed as the form it says it is too, so that
		// `{"x":"1&email=a%40b&y="}` holds no plaintext for a form reader.
		// The values a form reading seals are URL-escaped (no quote, no
		// backslash), so the document stays the JSON just sealed.
		sealed, err = t.SealForm(nil, sealed)
	}
	if err != nil {
		var fe *transform.FieldError
		switch {
		case errors.As(err, &fe):
			return err
		case errors.Is(err, rewrite.ErrInvalidJSON):
			return fmt.Errorf("parse request body: %w", ErrInvalidJSON)
		case errors.Is(err, rewrite.ErrShapeMismatch), errors.Is(err, rewrite.ErrTooDeep):
			return fmt.Errorf("request body: %w", err)
		default: // overlapping wildcard matches, pathological patterns
			return fmt.Errorf("match protected paths in request body: %w: %w", ErrAmbiguousFields, err)
		}
	}
	if len(rs.also) > 0 {
		// Its errors carry their categories (alsoError).
		if sealed, err = p.sealAlso(r, rs, t.Ring(), sealed, false); err != nil {
			return err
		}
	}
	// The sealed body leaves the pool in a buffer of its own: the transport
	// may still read it after the round trip (RoundTrip may close a body
	// later, from another goroutine), and as a *bytes.Reader it is one the
	// transport knows is in memory, so headers and body go to the upstream
	// in one write instead of two (see rewriteRequest). A large body keeps
	// the buffer it was sealed in, which then is never pooled again.
	fwd := sealed
	if len(sealed) <= maxClonedBody {
		fwd = bytes.Clone(sealed)
	} else if within(sealed, *in) {
		*in = nil
	}
	setBody(r, rs, fwd)
	return nil
}

// forwardBuffered forwards the bytes already read of a body that needs no
// sealing, as they came.
func (p *Proxy) forwardBuffered(r *http.Request, rs *reqState, body []byte) error {
	setBody(r, rs, bytes.Clone(body))
	return nil
}

// setBody makes fwd, in a buffer of its own, the request body forwarded
// identity-encoded with an exact length.
//
// A large body is forwarded through a forwardedBody, so that its buffer can
// take the response once the transport is done with it (the transport then
// flushes the headers before the body, which is nothing next to its size).
func setBody(r *http.Request, rs *reqState, fwd []byte) {
	if len(fwd) > maxClonedBody {
		rs.forwarded, r.Body = newForwardedBody(fwd)
		r.GetBody = rs.forwarded.reader
	} else {
		r.Body = io.NopCloser(bytes.NewReader(fwd))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(fwd)), nil }
	}
	rs.sealedBody = r.Body
	r.ContentLength = int64(len(fwd))
	r.TransferEncoding = nil
	delete(r.Header, hdrContentEncoding)
	// The client's Expect: 100-continue was answered when the proxy read
	// the body. Forwarded, it would make the transport hold the buffered
	// body back until the upstream says 100 Continue, which upstreams that
	// ignore the expectation never do (a full ExpectContinueTimeout per
	// request), and some answer 417. The body is in memory: send it.
	delete(r.Header, hdrExpect)
	// The transport frames the body by r.ContentLength and never sends a
	// Content-Length header field of the request's own.
	delete(r.Header, hdrContentLength)
	for _, h := range bodyDigestHeaders {
		delete(r.Header, h)
	}
}

func isMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// contentTypeError refuses a body of content type ct that route, which seals
// request paths, cannot check.
func contentTypeError(ct string, route *fieldmap.Route) error {
	if ct == "" {
		ct = "(none)"
	}
	return fmt.Errorf("route %q seals JSON paths of the request body, which a body of content type %.60q cannot be checked for; send application/json: %w", route.Name, ct, ErrUnsupportedMediaType)
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

// rewriteRequest is ReverseProxy's Rewrite hook. ReverseProxy has already
// removed hop-by-hop headers and any client-sent X-Forwarded-* from pr.Out.
func (p *Proxy) rewriteRequest(pr *httputil.ProxyRequest) {
	pr.SetURL(p.upstream)
	pr.SetXForwarded()
	if p.preserve {
		pr.Out.Host = pr.In.Host
	}
	if rs := stateFrom(pr.In.Context()); rs != nil {
		headerSet(pr.Out.Header, HeaderRequestID, rs.id)
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
	headerSet(resp.Header, HeaderRequestID, rs.id)
	rs.status = resp.StatusCode
	if rs.resp != nil && p.auth != nil {
		// What a caller reads depends on who it is, also where this
		// caller's bytes come out unchanged (legacy plaintext for one who
		// decrypts every class): a shared cache must not hand it to
		// another. Every response to a guarded request says so, 304s too.
		resp.Header.Add("Vary", "Authorization")
	}
	if rs.resp != nil && resp.StatusCode == http.StatusNotModified {
		// The 304 updates what the client holds of a 200 whose ETag may
		// have been made weak: it must not restore the strong one.
		weakenETag(resp.Header)
		return nil
	}
	if rs.resp == nil || resp.StatusCode < 200 || resp.StatusCode == http.StatusNoContent || resp.Request.Method == http.MethodHead {
		return nil
	}
	if resp.StatusCode > 299 || resp.StatusCode == http.StatusPartialContent {
		// Only 2xx is transformed for a caller who decrypts every class:
		// anything else keeps its sealed values sealed, never plaintext. A
		// caller who may not read some class must not get legacy plaintext
		// of it from an error body either: whatever may be JSON is
		// transformed whole, or refused.
		if rs.resp.OpensOnly() {
			return nil
		}
		if resp.StatusCode == http.StatusPartialContent {
			return fmt.Errorf("a partial response for a caller who may not read every class: %w", ErrBadUpstreamResponse)
		}
		if kind := responseStream(rs.route, strings.Join(resp.Header[hdrContentType], ",")); kind != streamNone {
			// Event readers built on fetch parse a stream whatever its
			// status.
			return p.streamResponse(resp, rs, kind)
		}
		if !isJSON(resp.Header.Get("Content-Type")) && !sniffResponseJSON(resp, p.maxResp, &rs.budget) {
			return nil
		}
		return p.openResponse(resp, rs.resp)
	}
	if rs.matched || !rs.resp.OpensOnly() {
		// A stream no route lists is opened too for a caller who may not
		// read some class: its legacy plaintext must not pass.
		if kind := responseStream(rs.route, strings.Join(resp.Header[hdrContentType], ",")); kind != streamNone {
			return p.streamResponse(resp, rs, kind)
		}
	}
	open, sniff := responseKind(rs.route, headerGet(resp.Header, hdrContentType))
	switch {
	case !open && !rs.resp.OpensOnly():
		// JSON served under another type, for a caller who may not read
		// some class: transformed whole when it may be JSON.
		if !sniffResponseJSON(resp, p.maxResp, &rs.budget) {
			return nil
		}
		return p.openResponse(resp, rs.resp)
	case !open:
		return nil
	case !rs.matched:
		return p.openUnmatched(resp, rs)
	case sniff:
		return p.sniffResponse(resp, rs)
	}
	return p.openResponse(resp, rs.resp)
}

// openUnmatched opens, per the caller's actions, the sealed values (and
// class members) of a JSON response to a request no route lists. Unlike a
// route's response it never fails for its size: a body larger than the
// limit, or compressed, is forwarded as it came, its values still sealed,
// which is never plaintext.
func (p *Proxy) openUnmatched(resp *http.Response, rs *reqState) error {
	if !rs.resp.OpensOnly() {
		// A caller who may not read some class must not get its legacy
		// plaintext either: the response is transformed whole, or refused,
		// exactly as on a route.
		return p.openResponse(resp, rs.resp)
	}
	if len(resp.Header.Values("Content-Encoding")) > 0 || resp.ContentLength > p.maxResp {
		return nil
	}
	in := p.bufs.get()
	doc, err := readLimited((*in)[:0], resp.Body, p.maxResp, resp.ContentLength, &rs.budget)
	*in = doc[:0]
	if err != nil {
		// Too large, busy or broken: the client gets the bytes read and
		// the rest as they come (or the upstream's own error).
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(bytes.Clone(doc)), resp.Body), resp.Body}
		p.bufs.put(in)
		return nil
	}
	_ = resp.Body.Close()
	if !bytes.Contains(doc, []byte(crypto.Prefix)) && !bytes.Contains(doc, []byte(`\u`)) {
		// Nothing to open and no member to hide from this caller.
		*in = doc
		resp.Body = newPooledBody(&p.bufs, in)
		return nil
	}
	p.bufs.put(in)
	resp.Body = io.NopCloser(bytes.NewReader(bytes.Clone(doc)))
	resp.ContentLength = int64(len(doc))
	return p.openResponse(resp, rs.resp)
}

// openResponse replaces resp.Body with its transformed form, re-encoded with
// the upstream's Content-Encoding. Nothing of the body reaches the client
// unless the whole document was transformed.
func (p *Proxy) openResponse(resp *http.Response, t *transform.Transform) error {
	codings, err := parseCodings(resp.Header[hdrContentEncoding])
	if err != nil {
		// The upstream's fault, not the client's (no 415): it was only
		// offered codings the proxy decodes (acceptDecodable).
		return fmt.Errorf("%w: %v", ErrBadUpstreamResponse, err)
	}
	if resp.ContentLength > p.maxResp {
		return p.largeResponse(resp, t, nil, nil,
			fmt.Errorf("read response body of %d bytes (limit %d): %w", resp.ContentLength, p.maxResp, ErrResponseTooLarge))
	}
	// ResponseHeaderTimeout only covers the headers; an upstream dribbling
	// the body of a protected response is cut off here (504).
	var timedOut atomic.Bool
	rs := stateFrom(resp.Request.Context()) // nil outside a request (tests)
	bodyTimeout := p.bodyTimeoutFor(rs)
	timer := time.AfterFunc(bodyTimeout, func() {
		timedOut.Store(true)
		_ = resp.Body.Close()
	})
	defer timer.Stop()
	// The round trip is over: a large request body's buffer is free.
	var in *[]byte
	if rs != nil {
		in = rs.forwarded.reclaim()
	}
	if in == nil {
		in = p.bufs.get()
	}
	defer func() {
		if in != nil {
			p.bufs.put(in)
		}
	}()
	body, err := decodeBody(resp.Body, codings)
	if err != nil && timedOut.Load() {
		return fmt.Errorf("read response body (timeout %s): %w", bodyTimeout, ErrUpstreamTimeout)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadUpstreamResponse, err)
	}
	var h *held
	if rs != nil {
		h = &rs.budget
	}
	doc, err := readLimited((*in)[:0], body, p.maxResp, resp.ContentLength, h)
	*in = doc[:0]
	if errors.Is(err, errTooLarge) && timer.Stop() {
		// Stopped before it fired: the rest, if forwarded, streams.
		return p.largeResponse(resp, t, doc, body,
			fmt.Errorf("read response body (limit %d bytes): %w", p.maxResp, ErrResponseTooLarge))
	}
	_ = resp.Body.Close()
	switch {
	case err != nil && timedOut.Load():
		return fmt.Errorf("read response body (timeout %s): %w", bodyTimeout, ErrUpstreamTimeout)
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("read response body (limit %d bytes): %w", p.maxResp, ErrResponseTooLarge)
	case err != nil:
		return fmt.Errorf("read response body: %w: %w", ErrBadUpstreamResponse, err)
	}
	p.metrics.respBytes.Observe(float64(len(doc)))
	if len(doc) == 0 {
		// Nothing to open; an empty body labelled with a coding is
		// forwarded as what it is.
		resp.Body = http.NoBody
		resp.ContentLength = 0
		resp.TransferEncoding = nil
		resp.Header.Set("Content-Length", "0")
		resp.Header.Del("Content-Encoding")
		return nil
	}
	if rs != nil && rs.route.ContextMember != "" {
		// A document that lacks the member opens under no context: its
		// values then do not open (502, or left sealed), never a guess.
		_ = bindMember(t, doc, rs.route.ContextMember)
	}
	// Opened in its own buffer (buffers.go), which then is the body's.
	opened, err := t.Open(doc[:0], doc)
	if err == nil && rs != nil && len(rs.respAlso) > 0 {
		opened, err = rs.respAlso.Open(nil, opened)
	}
	if err != nil {
		var fe *transform.FieldError
		if errors.As(err, &fe) {
			return err
		}
		return fmt.Errorf("transform response body: %w: %w", ErrBadUpstreamResponse, err)
	}
	out := &opened
	if within(opened, *in) {
		*in, out, in = opened, in, nil
	}
	if len(codings) > 0 {
		// Pooled compressors (compress.go): a fresh flate writer is about
		// 650 KB allocated and zeroed per response.
		encoded := p.bufs.get()
		b, err := p.codecs.encode((*encoded)[:0], opened, codings)
		*encoded = b
		p.bufs.put(out)
		if err != nil {
			p.bufs.put(encoded)
			return err
		}
		out = encoded
	}
	resp.Body = newPooledBody(&p.bufs, out)
	resp.ContentLength = int64(len(*out))
	resp.TransferEncoding = nil
	headerSet(resp.Header, hdrContentLength, strconv.Itoa(len(*out)))
	if t.Changed() || rs != nil && rs.respAlso.Changed() {
		for _, h := range bodyDigestHeaders {
			delete(resp.Header, h)
		}
		// The bytes differ from the upstream's representation (and between
		// callers with different actions), but are semantically the same
		// resource state: a weak validator still makes If-None-Match work.
		weakenETag(resp.Header)
	}
	return nil
}

// errorHandler is ReverseProxy's ErrorHandler: transport errors and errors
// from modifyResponse end here, before anything was written to w.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	rs := stateFrom(r.Context())
	if rs != nil && rs.streamDone != nil {
		// A body sealed as it streams failed: its own error says why the
		// transport gave up.
		_ = rs.streamBody.Close()
		<-rs.streamDone
		if rs.streamErr != nil {
			err = rs.streamErr
		}
	}
	c := classifyProxyError(err)
	id := ""
	if rs != nil {
		rs.fail(c)
		id = rs.id
		p.logError(rs, c, err)
	}
	headerSet(w.Header(), HeaderRequestID, id)
	writeError(w, p.errorBody, c, err, id)
}

func (rs *reqState) fail(c errorClass) {
	rs.err = &c
	rs.status = c.Status
}

func (rs *reqState) outcome(ok string) string {
	if rs.err != nil {
		return rs.err.Code
	}
	return ok
}

func (p *Proxy) logError(rs *reqState, c errorClass, err error) {
	route := unmatchedRoute
	if rs.route != nil {
		route = rs.route.Name
	}
	ev := p.log.Warn()
	if c.Status >= 500 {
		ev = p.log.Error()
	}
	if h := logHint(err); h != "" {
		ev = ev.Str("hint", h)
	}
	ev.Str("request_id", rs.id).Str("route", route).Str("code", c.Code).Int("status", c.Status).Err(err).Msg("request failed")
}

// finish records metrics and the observer event of a protected request.
func (p *Proxy) finish(r *http.Request, rs *reqState, callerID string, start time.Time) {
	latency := p.now().Sub(start)
	touched := rs.matched || len(rs.st.Fields) > 0 || rs.err != nil
	ok := "ok"
	if rs.okOutcome != "" {
		ok = rs.okOutcome
	}
	outcome := rs.outcome(ok)
	if !touched {
		outcome = rs.outcome(outcomeForwarded)
	}
	p.metrics.observe(rs.route.Name, callerID, outcome, latency.Seconds(), &rs.st)
	p.metrics.guard(&rs.st, rs.err)
	if p.observer == nil || !touched {
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
