// Package jsonerror writes fieldseal's one JSON error shape, shared by the
// proxy and the API listener so that a client parses every error the same
// way:
//
//	{"error":{"code":"body_too_large","message":"...","request_id":"..."}}
//
// The code is a stable identifier clients and dashboards match on; the
// message names the problem (a field path, a limit) and never a value or a
// secret; the request id is the one the response also carries in
// X-Request-Id. Which error gets which status and code is a Table: the
// rows both listeners share (NewTable) followed by each listener's own.
package jsonerror

import (
	"net/http"
	"strconv"

	"github.com/fieldseal/fieldseal/rewrite"
)

// Append appends {"error":{"code":..,"message":..,"request_id":..}} and a
// newline to dst, escaping each string as a JSON string literal.
func Append(dst []byte, code, message, requestID string) []byte {
	dst = append(dst, `{"error":{"code":`...)
	dst = rewrite.AppendString(dst, []byte(code))
	dst = append(dst, `,"message":`...)
	dst = rewrite.AppendString(dst, []byte(message))
	dst = append(dst, `,"request_id":`...)
	dst = rewrite.AppendString(dst, []byte(requestID))
	return append(dst, "}}\n"...)
}

// Write answers with status and the JSON error body: Content-Type
// application/json, an exact Content-Length, nosniff, no-store, and for 401
// a "WWW-Authenticate: Bearer" challenge (RFC 6750 section 3). It must only
// be called before anything else was written to w.
func Write(w http.ResponseWriter, status int, code, message, requestID string) {
	body := Append(nil, code, message, requestID)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", "Bearer")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
