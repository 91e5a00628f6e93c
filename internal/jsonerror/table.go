package jsonerror

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/transform"
)

// Categories both listeners answer alike. The proxy re-exports them under
// its own names; the API wraps them directly.
var (
	// ErrUnsupportedMediaType: the request body is not JSON.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrUnsupportedEncoding: a Content-Encoding the listener does not take.
	ErrUnsupportedEncoding = errors.New("unsupported content encoding")
	// ErrBodyTooLarge: the request body exceeds the listener's body limit.
	ErrBodyTooLarge = errors.New("body too large")
	// ErrReadBody: the request body could not be read (connection dropped,
	// malformed chunking).
	ErrReadBody = errors.New("read request body")
	// ErrRequestTimeout: the request body did not arrive within the
	// listener's body timeout.
	ErrRequestTimeout = errors.New("request body timeout")
	// ErrInvalidJSON: the request body is not valid JSON.
	ErrInvalidJSON = errors.New("invalid json")
	// ErrUnauthenticated: the caller's credentials were refused or missing.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrKeysUnavailable: no key ring has been loaded yet.
	ErrKeysUnavailable = errors.New("keys unavailable")
)

// StatusClientClosed is the status of a request whose client went away
// before the answer (nginx's 499). It is a log and metric value only: on the
// wire it is WireStatus's 502.
const StatusClientClosed = 499

// Class is one row of a listener's error table: the HTTP status and the
// stable code clients and dashboards match on (also the outcome label of the
// listener's request metric).
type Class struct {
	Status int
	Code   string
	// Public replaces the message of 5xx errors, whose wrapped detail
	// (upstream addresses, key ids) stays in the log. 4xx errors send their
	// own text, which names a field path or a limit, never a value.
	Public string
}

// Message is the text sent to the client for err: Public when set, else
// err's own text.
func (c Class) Message(err error) string {
	if c.Public != "" {
		return c.Public
	}
	return err.Error()
}

// WireStatus is the status written: StatusClientClosed becomes 502 so that a
// valid status stands on the wire even though nobody is listening.
func (c Class) WireStatus() int {
	if c.Status == StatusClientClosed {
		return http.StatusBadGateway
	}
	return c.Status
}

// Internal is the class of an error no row names, and Canceled the class of
// a request whose client went away.
var (
	Internal = Class{http.StatusInternalServerError, "internal", "internal error"}
	Canceled = Class{StatusClientClosed, "client_canceled", "the client went away"}
)

// Row maps an error category, matched with errors.Is, to its class.
type Row struct {
	Err error
	Class
}

// NewRow returns the row that maps err to status, code and public (see
// Class).
func NewRow(err error, status int, code, public string) Row {
	return Row{err, Class{status, code, public}}
}

// Table is a listener's error table; the first row an error matches wins.
type Table []Row

// common are the rows both listeners share, in the order they are tried.
var common = Table{
	{ErrUnsupportedMediaType, Class{http.StatusUnsupportedMediaType, "unsupported_media_type", ""}},
	{ErrUnsupportedEncoding, Class{http.StatusUnsupportedMediaType, "unsupported_encoding", ""}},
	{ErrBodyTooLarge, Class{http.StatusRequestEntityTooLarge, "body_too_large", ""}},
	{ErrRequestTimeout, Class{http.StatusRequestTimeout, "request_timeout", ""}},
	{ErrReadBody, Class{http.StatusBadRequest, "bad_request_body", ""}},
	{ErrInvalidJSON, Class{http.StatusBadRequest, "invalid_json", ""}},
	{ErrUnauthenticated, Class{http.StatusUnauthorized, "unauthenticated", ""}},
	{transform.ErrForbidden, Class{http.StatusForbidden, "forbidden", ""}},
	{ErrKeysUnavailable, Class{http.StatusServiceUnavailable, "keys_unavailable", "no encryption keys are loaded yet; retry later"}},
}

// NewTable returns the common rows followed by a listener's own rows.
func NewTable(own ...Row) Table {
	return append(slices.Clone(common), own...)
}

// Classify is the one place where a listener's errors become classes. It
// reads as ErrBodyTooLarge an *http.MaxBytesError, then tries the rows in
// order, then reads crypto.ErrNoKey as ErrKeysUnavailable and
// context.Canceled as Canceled. ok is false when none of these applies: the
// listener adds its own fallbacks, then answers Internal.
func (t Table) Classify(err error) (c Class, ok bool) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = ErrBodyTooLarge
	}
	for _, r := range t {
		if errors.Is(err, r.Err) {
			return r.Class, true
		}
	}
	if errors.Is(err, crypto.ErrNoKey) {
		return t.Classify(ErrKeysUnavailable)
	}
	if errors.Is(err, context.Canceled) {
		return Canceled, true
	}
	return Class{}, false
}
