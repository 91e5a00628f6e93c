package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/fieldseal/fieldseal/crypto"
	"strconv"

	"github.com/fieldseal/fieldseal/rewrite"
	"github.com/fieldseal/fieldseal/transform"
)

// Error categories. Every error the proxy answers with wraps exactly one of
// them or one of the transform's (transform.ErrForbidden, ErrMaskedValue,
// ErrInvalidSealedValue, ErrSeal, ErrOpen); classify maps them to an HTTP
// status and a stable code. The codes are part of the API (clients and
// dashboards match on them) and are also the outcome label of
// fieldseal_proxy_requests_total.
var (
	// ErrUnsupportedMediaType: a protected request body is not JSON.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrUnsupportedEncoding: a Content-Encoding the proxy cannot decode.
	ErrUnsupportedEncoding = errors.New("unsupported content encoding")
	// ErrBodyTooLarge: a protected request body exceeds MaxBodyBytes (before
	// or after decompression).
	ErrBodyTooLarge = errors.New("body too large")
	// ErrReadBody: the client's request body could not be read (connection
	// dropped, malformed chunking).
	ErrReadBody = errors.New("read request body")
	// ErrRequestTimeout: the client did not send a protected body within
	// BodyTimeout.
	ErrRequestTimeout = errors.New("request body timeout")
	// ErrInvalidJSON: a protected request body is not valid JSON.
	ErrInvalidJSON = errors.New("invalid json")
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
	// ErrUnauthenticated: the Authenticator refused the caller's credentials.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrKeysUnavailable: no key ring has been loaded yet.
	ErrKeysUnavailable = errors.New("keys unavailable")
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
	// ErrUnmatchedMember: a request no route lists carries a class member
	// and guard.unmatched is refuse.
	ErrUnmatchedMember = errors.New("class member on an unlisted route")
	// ErrBusy: the bytes buffered by all requests at once reached
	// limits.max_buffered_bytes, or the listener is at
	// limits.max_connections; retry later.
	ErrBusy = errors.New("busy")
)

// errorClass is one row of the status mapping.
type errorClass struct {
	status int
	code   string
	// public is the message sent to the client for 5xx errors, whose wrapped
	// detail (upstream addresses, key ids) stays in the log. 4xx errors send
	// their own text: it names the field path and the problem, never a value.
	public string
}

var errorClasses = []struct {
	err error
	errorClass
}{
	{ErrUnsupportedMediaType, errorClass{http.StatusUnsupportedMediaType, "unsupported_media_type", ""}},
	{ErrUnsupportedEncoding, errorClass{http.StatusUnsupportedMediaType, "unsupported_encoding", ""}},
	{ErrBodyTooLarge, errorClass{http.StatusRequestEntityTooLarge, "body_too_large", ""}},
	{ErrRequestTimeout, errorClass{http.StatusRequestTimeout, "request_timeout", ""}},
	{ErrReadBody, errorClass{http.StatusBadRequest, "bad_request_body", ""}},
	{ErrInvalidJSON, errorClass{http.StatusBadRequest, "invalid_json", ""}},
	{rewrite.ErrTooDeep, errorClass{http.StatusBadRequest, "too_deep", ""}},
	{rewrite.ErrShapeMismatch, errorClass{http.StatusUnprocessableEntity, "shape_mismatch", ""}},
	{transform.ErrSealedWrite, errorClass{http.StatusUnprocessableEntity, "sealed_value_refused", ""}},
	{ErrUnmatchedMember, errorClass{http.StatusUnprocessableEntity, "unmatched_class_member", ""}},
	{rewrite.ErrFormFile, errorClass{http.StatusUnprocessableEntity, "protected_file_part", ""}},
	{rewrite.ErrInvalidForm, errorClass{http.StatusBadRequest, "invalid_form", ""}},
	{ErrInvalidQuery, errorClass{http.StatusBadRequest, "invalid_query", ""}},
	{transform.ErrInvalidSealedValue, errorClass{http.StatusBadRequest, "invalid_sealed_value", ""}},
	{ErrAmbiguousFields, errorClass{http.StatusBadRequest, "ambiguous_fields", ""}},
	{transform.ErrMaskedValue, errorClass{http.StatusUnprocessableEntity, "masked_value", ""}},
	{ErrUpgradeRefused, errorClass{http.StatusBadRequest, "upgrade_refused", ""}},
	{ErrMissingContext, errorClass{http.StatusBadRequest, "missing_context", ""}},
	{ErrUnauthenticated, errorClass{http.StatusUnauthorized, "unauthenticated", ""}},
	{transform.ErrForbidden, errorClass{http.StatusForbidden, "forbidden", ""}},
	{ErrKeysUnavailable, errorClass{http.StatusServiceUnavailable, "keys_unavailable", "no encryption keys are loaded yet; retry later"}},
	{ErrBusy, errorClass{http.StatusServiceUnavailable, "busy", "the proxy is holding as many request bodies as it may; retry later"}},
	{transform.ErrSeal, errorClass{http.StatusInternalServerError, "seal_failed", "a field could not be sealed"}},
	{transform.ErrOpen, errorClass{http.StatusBadGateway, "open_failed", "a sealed field in the upstream response could not be opened"}},
	{ErrResponseTooLarge, errorClass{http.StatusBadGateway, "response_too_large", "the upstream response is larger than the proxy may transform (limits.max_response_bytes)"}},
	{ErrBadUpstreamResponse, errorClass{http.StatusBadGateway, "bad_upstream_response", "the upstream response body could not be decoded"}},
	{ErrUpstreamTimeout, errorClass{http.StatusGatewayTimeout, "upstream_timeout", "the upstream did not answer in time"}},
	{ErrUpstreamUnavailable, errorClass{http.StatusBadGateway, "upstream_unavailable", "the upstream could not be reached"}},
}

var (
	internalClass = errorClass{http.StatusInternalServerError, "internal", "internal error"}
	canceledClass = errorClass{499, "client_canceled", "the client went away"}
)

// classify is the one place where errors become HTTP statuses.
func classify(err error) errorClass {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return classify(ErrBodyTooLarge)
	}
	for _, c := range errorClasses {
		if errors.Is(err, c.err) {
			return c.errorClass
		}
	}
	// Errors from the transport (ReverseProxy's ErrorHandler) are not ours.
	if errors.Is(err, crypto.ErrNoKey) {
		return classify(ErrKeysUnavailable)
	}
	if errors.Is(err, context.Canceled) {
		return canceledClass
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
	return internalClass
}

// classifyProxyError maps errors reaching ReverseProxy's ErrorHandler. They
// come from ModifyResponse (which wraps a category) or from the transport;
// a transport error no rule above recognises (EOF from a connection the
// upstream closed, a malformed response) is the upstream's fault: 502.
func classifyProxyError(err error) errorClass {
	c := classify(err)
	if c == internalClass {
		return classify(ErrUpstreamUnavailable)
	}
	return c
}

// writeError answers a request with the error body for err, shaped by
// format (nil: fieldseal's own). It must only be called before anything
// else was written to w.
func writeError(w http.ResponseWriter, format ErrorBody, c errorClass, err error, requestID string) {
	status := c.status
	if status == 499 { // nobody is listening; keep a valid status on the wire
		status = http.StatusBadGateway
	}
	if format == nil {
		format = fieldsealBody{}
	}
	body, contentType := format.Render(nil, errorInfo(c, status, err, requestID))
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if c.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", "Bearer")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
