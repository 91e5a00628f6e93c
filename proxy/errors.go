package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"

	"strconv"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/jsonerror"
	"github.com/fieldseal/fieldseal/rewrite"
	"github.com/fieldseal/fieldseal/transform"
)

// Error categories. Every error the proxy answers with wraps exactly one of
// them, one of the transform's (transform.ErrForbidden, ErrMaskedValue,
// ErrInvalidSealedValue, ErrSeal, ErrOpen) or one the API listener shares
// (package jsonerror); classify maps them to an HTTP status and a stable
// code. The codes are part of the API (clients and dashboards match on them)
// and are also the outcome label of fieldseal_proxy_requests_total.
var (
	// ErrUnsupportedMediaType: a protected request body is not JSON.
	ErrUnsupportedMediaType = jsonerror.ErrUnsupportedMediaType
	// ErrUnsupportedEncoding: a Content-Encoding the proxy cannot decode.
	ErrUnsupportedEncoding = jsonerror.ErrUnsupportedEncoding
	// ErrBodyTooLarge: a protected request body exceeds MaxBodyBytes (before
	// or after decompression).
	ErrBodyTooLarge = jsonerror.ErrBodyTooLarge
	// ErrReadBody: the client's request body could not be read.
	ErrReadBody = jsonerror.ErrReadBody
	// ErrRequestTimeout: the client did not send a protected body within
	// BodyTimeout.
	ErrRequestTimeout = jsonerror.ErrRequestTimeout
	// ErrInvalidJSON: a protected request body is not valid JSON.
	ErrInvalidJSON = jsonerror.ErrInvalidJSON
	// ErrUnauthenticated: the Authenticator refused the caller's credentials.
	ErrUnauthenticated = jsonerror.ErrUnauthenticated
	// ErrKeysUnavailable: no key ring has been loaded yet.
	ErrKeysUnavailable = jsonerror.ErrKeysUnavailable
)

// The proxy's own categories.
var (
	// ErrAmbiguousFields: the protected paths cannot be applied to a request
	// body unambiguously (wildcard matches that overlap, a key too complex to
	// match against a pattern).
	ErrAmbiguousFields = errors.New("ambiguous protected fields")
	// ErrUpgradeRefused: a protocol upgrade (websocket, h2c) was asked on a
	// route that seals request fields. After the upgrade the connection would
	// carry bytes the proxy cannot see, so plaintext could reach the store.
	ErrUpgradeRefused = errors.New("upgrade refused")
	// ErrMissingContext: the route binds values to a header the request lacks.
	ErrMissingContext = errors.New("missing context header")
	// ErrInvalidQuery: a protected query parameter cannot be read the way
	// the application would (a filter comparison fieldseal cannot seal, a
	// bad escape).
	ErrInvalidQuery = errors.New("query parameter cannot be sealed")
	// ErrResponseTooLarge: a response body to transform exceeds MaxResponseBytes.
	ErrResponseTooLarge = errors.New("response too large")
	// ErrBadUpstreamResponse: a protected 2xx JSON response is not valid JSON
	// or its Content-Encoding does not decode.
	ErrBadUpstreamResponse = errors.New("bad upstream response")
	// ErrUpstreamUnavailable: the upstream could not be reached or broke the
	// connection.
	ErrUpstreamUnavailable = errors.New("upstream unavailable")
	// ErrUpstreamTimeout: the upstream did not answer in time.
	ErrUpstreamTimeout = errors.New("upstream timeout")
	// ErrAmbiguousRoute: the request may be taken as several routes (method
	// overrides, path spellings) that seal one of its values differently
	// (another class or context, or a value one route seals whole and
	// another inside): no sealed form of it opens under every route.
	ErrAmbiguousRoute = errors.New("ambiguous route")
	// ErrUnmatchedMember: a request no route lists carries a class member
	// and guard.unmatched is refuse.
	ErrUnmatchedMember = errors.New("class member on an unlisted route")
	// ErrBusy: the bytes buffered by all requests at once reached
	// limits.max_buffered_bytes, or the listener is at
	// limits.max_connections; retry later.
	ErrBusy = errors.New("busy")
)

// errorClass is what an error answers with: status, code, public message.
type errorClass = jsonerror.Class

// errorClasses is the shared table followed by the proxy's own rows.
var errorClasses = jsonerror.NewTable(
	jsonerror.NewRow(rewrite.ErrTooDeep, http.StatusBadRequest, "too_deep", ""),
	jsonerror.NewRow(ErrAmbiguousRoute, http.StatusBadRequest, "ambiguous_route", ""),
	jsonerror.NewRow(rewrite.ErrShapeMismatch, http.StatusUnprocessableEntity, "shape_mismatch", ""),
	jsonerror.NewRow(transform.ErrSealedWrite, http.StatusUnprocessableEntity, "sealed_value_refused", ""),
	jsonerror.NewRow(ErrUnmatchedMember, http.StatusUnprocessableEntity, "unmatched_class_member", ""),
	jsonerror.NewRow(rewrite.ErrFormFile, http.StatusUnprocessableEntity, "protected_file_part", ""),
	jsonerror.NewRow(rewrite.ErrInvalidForm, http.StatusBadRequest, "invalid_form", ""),
	jsonerror.NewRow(ErrInvalidQuery, http.StatusBadRequest, "invalid_query", ""),
	jsonerror.NewRow(transform.ErrInvalidSealedValue, http.StatusBadRequest, "invalid_sealed_value", ""),
	jsonerror.NewRow(ErrAmbiguousFields, http.StatusBadRequest, "ambiguous_fields", ""),
	jsonerror.NewRow(transform.ErrMaskedValue, http.StatusUnprocessableEntity, "masked_value", ""),
	jsonerror.NewRow(ErrUpgradeRefused, http.StatusBadRequest, "upgrade_refused", ""),
	jsonerror.NewRow(ErrMissingContext, http.StatusBadRequest, "missing_context", ""),
	jsonerror.NewRow(ErrBusy, http.StatusServiceUnavailable, "busy", "the proxy is holding as many request bodies as it may; retry later"),
	jsonerror.NewRow(transform.ErrSeal, http.StatusInternalServerError, "seal_failed", "a field could not be sealed"),
	jsonerror.NewRow(transform.ErrOpen, http.StatusBadGateway, "open_failed", "a sealed field in the upstream response could not be opened"),
	jsonerror.NewRow(ErrResponseTooLarge, http.StatusBadGateway, "response_too_large", "the upstream response is larger than the proxy may transform (limits.max_response_bytes)"),
	jsonerror.NewRow(ErrBadUpstreamResponse, http.StatusBadGateway, "bad_upstream_response", "the upstream response body could not be decoded"),
	jsonerror.NewRow(ErrUpstreamTimeout, http.StatusGatewayTimeout, "upstream_timeout", "the upstream did not answer in time"),
	jsonerror.NewRow(ErrUpstreamUnavailable, http.StatusBadGateway, "upstream_unavailable", "the upstream could not be reached"),
)

// logHint is what an operator should check for err, for the "hint" field
// of the request's error log line ("" when there is nothing to add). It
// never goes into the client's error body: it speaks of the deployment.
func logHint(err error) string {
	if errors.Is(err, transform.ErrOpen) && errors.Is(err, crypto.ErrTampered) {
		return "a value that does not authenticate under a key version the ring has is tampered or was sealed under another key ring or master key " +
			"(a ring made again with keys init, a restore from another environment): compare the ring id of `fieldseal keys status` where it was written"
	}
	return ""
}

// classify is the one place where errors become HTTP statuses: the table,
// then errors from the transport (ReverseProxy's ErrorHandler), which are
// not ours.
func classify(err error) errorClass {
	if c, ok := errorClasses.Classify(err); ok {
		return c
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return classify(ErrUpstreamTimeout)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return classify(ErrUpstreamTimeout)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return classify(ErrUpstreamUnavailable)
	}
	return jsonerror.Internal
}

// classifyProxyError maps errors reaching ReverseProxy's ErrorHandler. They
// come from ModifyResponse (which wraps a category) or from the transport;
// a transport error no rule above recognises (EOF from a connection the
// upstream closed, a malformed response) is the upstream's fault: 502.
func classifyProxyError(err error) errorClass {
	c := classify(err)
	if c == jsonerror.Internal {
		return classify(ErrUpstreamUnavailable)
	}
	return c
}

// writeError answers a request with the error body for err, shaped by
// format (nil: fieldseal's own). It must only be called before anything
// else was written to w.
func writeError(w http.ResponseWriter, format ErrorBody, c errorClass, err error, requestID string) {
	status := c.WireStatus()
	if format == nil {
		format = fieldsealBody{}
	}
	body, contentType := format.Render(nil, errorInfo(c, status, err, requestID))
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if c.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", "Bearer")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
