package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// Per-route timeouts. A long-poll change feed holds its response headers
// for as long as it waits for a change (CouchDB's feed=longpoll: a minute
// by default), longer than any sensible default; a route says so with its
// own upstream_timeout and body_timeout (fieldmap.Route).

// bodyTimeoutFor is the route's body timeout, or the proxy's.
func (p *Proxy) bodyTimeoutFor(rs *reqState) time.Duration {
	if rs != nil && rs.route != nil && rs.route.BodyTimeout > 0 {
		return rs.route.BodyTimeout
	}
	return p.bodyTimeout
}

// routeTransport is ReverseProxy's Transport: requests on a route with its
// own upstream timeout go through a transport without a response-header
// timeout of its own (so the route's may be longer than the default), with
// the route's armed once the request is written, as
// http.Transport.ResponseHeaderTimeout is; every other request goes through
// the proxy's transport.
type routeTransport struct{ p *Proxy }

func (rt routeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rs := stateFrom(req.Context())
	if rs == nil || rs.route == nil || rs.route.UpstreamTimeout <= 0 {
		return rt.p.transport.RoundTrip(req)
	}
	d := rs.route.UpstreamTimeout
	ctx, cancel := context.WithCancelCause(req.Context())
	var ht headerTimer
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		ht.start(d, func() {
			cancel(fmt.Errorf("wait for upstream response headers (route timeout %s): %w", d, ErrUpstreamTimeout))
		})
	}}
	resp, err := rt.p.untimedTransport.RoundTrip(req.WithContext(httptrace.WithClientTrace(ctx, trace)))
	ht.stop()
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrUpstreamTimeout) {
			err = cause
		}
		cancel(nil)
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// headerTimer is armed when the request is written (from the transport's
// writing goroutine, possibly more than once on a retry, possibly after the
// response arrived) and stopped when the headers arrived.
type headerTimer struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func (h *headerTimer) start(d time.Duration, f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	if h.t != nil {
		h.t.Stop()
	}
	h.t = time.AfterFunc(d, f)
}

func (h *headerTimer) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	if h.t != nil {
		h.t.Stop()
	}
}

// cancelOnClose releases a response's context once its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel(nil)
	return err
}
