package api

import (
	"errors"
	"net/http"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/internal/jsonerror"
	"github.com/fieldseal/fieldseal/rewrite"
	"github.com/fieldseal/fieldseal/transform"
)

// Call error categories: what makes a whole call fail. The table is the
// proxy's shared one (package jsonerror: body, content type, encoding,
// authentication, keys) with the API's own rows, so a client handles both
// listeners alike; the codes are also the outcome label of
// fieldseal_api_requests_total.
var (
	// ErrNotFound: no operation at this path.
	ErrNotFound = errors.New("not found")
	// ErrMethodNotAllowed: the operations take POST only.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrInvalidRequest: the body is JSON but not a batch ({"items":[...]}
	// with 1 to MaxItems items and no other member).
	ErrInvalidRequest = errors.New("invalid request")
)

// errorClass is what a call error answers with: status, code, public message.
type errorClass = jsonerror.Class

var callErrors = jsonerror.NewTable(
	jsonerror.NewRow(ErrNotFound, http.StatusNotFound, "not_found", ""),
	jsonerror.NewRow(ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed", ""),
	jsonerror.NewRow(ErrInvalidRequest, http.StatusBadRequest, "invalid_request", ""),
)

// classify is the one place where call errors become HTTP statuses.
func classify(err error) errorClass {
	if c, ok := callErrors.Classify(err); ok {
		return c
	}
	return jsonerror.Internal
}

// writeError answers a call with the JSON error for err. It must only be
// called before anything else was written to w.
func writeError(w http.ResponseWriter, c errorClass, err error, requestID string) {
	if c.Status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	jsonerror.Write(w, c.WireStatus(), c.Code, c.Message(err), requestID)
}

// Item error categories: what makes one item of a batch fail. The item's
// error carries the code; the other items are unaffected.
var (
	// errInvalidItem: an item that is not one of the shapes the operation
	// takes (a value with a class, or a document with a route or fields).
	errInvalidItem = errors.New("invalid item")
	// errUnknownClass: the item names a class the field map lacks.
	errUnknownClass = errors.New("unknown class")
	// errUnknownRoute: the item names a route the field map lacks.
	errUnknownRoute = errors.New("unknown route")
	// errNoFields: the route has no fields on the side the operation uses
	// (request fields for seal, response fields for open).
	errNoFields = errors.New("no fields")
	// errInvalidFields: the item's field list does not compile.
	errInvalidFields = errors.New("invalid fields")
	// errMissingContext: the route binds a context and the item gives none.
	errMissingContext = errors.New("missing context")
	// errNotDeterministic: lookup on a class that is not deterministic.
	errNotDeterministic = errors.New("class is not deterministic")
	// errNotPlaintext: lookup on a value that is already sealed.
	errNotPlaintext = errors.New("value is already sealed")
)

var itemErrors = []struct {
	err  error
	code string
}{
	{errInvalidItem, "invalid_item"},
	{errUnknownClass, "unknown_class"},
	{errUnknownRoute, "unknown_route"},
	{errNoFields, "no_fields"},
	{errInvalidFields, "invalid_fields"},
	{errMissingContext, "missing_context"},
	{errNotDeterministic, "not_deterministic"},
	{errNotPlaintext, "invalid_value"},
	{rewrite.ErrInvalidJSON, "invalid_json"},
	{rewrite.ErrTooDeep, "too_deep"},
	{rewrite.ErrShapeMismatch, "shape_mismatch"},
	{transform.ErrSealedWrite, "sealed_value_refused"},
	{transform.ErrForbidden, "forbidden"},
	{transform.ErrMaskedValue, "masked_value"},
	{transform.ErrInvalidSealedValue, "invalid_sealed_value"},
	{transform.ErrSeal, "seal_failed"},
	{transform.ErrOpen, "open_failed"},
	{crypto.ErrNoKey, "keys_unavailable"},
}

// itemCode is the one place where item errors become codes. Errors no row
// names are a document the paths cannot be applied to unambiguously
// (overlapping wildcard matches), as the proxy's ambiguous_fields.
func itemCode(err error) string {
	for _, e := range itemErrors {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return "ambiguous_fields"
}

// itemOutcome is the audit outcome an item error code gives its call, and
// its rank: a refusal by policy outweighs a failure, which outweighs a bad
// item, and the call's outcome is its worst item's.
func itemOutcome(code string) (outcome string, rank int) {
	switch code {
	case "forbidden", "masked_value", "sealed_value_refused":
		return audit.OutcomeDenied, 3
	case "seal_failed", "open_failed", "keys_unavailable":
		return audit.OutcomeError, 2
	default:
		return audit.OutcomeRejected, 1
	}
}
