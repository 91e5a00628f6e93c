package transform

import (
	"errors"
	"fmt"
	"strconv"
)

// Error categories. Every error Seal and Open return for a field is a
// *FieldError wrapping one of them (or ErrForbidden with a reason); the
// proxy maps them to HTTP statuses, the CLI prints them. Other errors come
// from the document itself (rewrite.ErrInvalidJSON, rewrite.ErrOverlap).
var (
	// ErrForbidden: the caller may not write a class present in the
	// document (its action is ActionDeny, or MayWrite is false).
	ErrForbidden = errors.New("forbidden")
	// ErrMaskedValue: a field to seal carries a masked value (mask.Prefix),
	// typically a masked record read and sent back. Sealing it would
	// overwrite the stored value with its mask.
	ErrMaskedValue = errors.New("masked value")
	// ErrInvalidSealedValue: a field to seal carries a value with the sealed
	// prefix that does not open for that field (another class or context, a
	// forged or truncated value).
	ErrInvalidSealedValue = errors.New("invalid sealed value")
	// ErrSealedWrite: a document to seal carries a value already sealed and
	// the caller may not send sealed values of its class (see
	// Params.AcceptSealed and SealedWriter). A value copied from another
	// record would otherwise be opened for whoever reads this one.
	ErrSealedWrite = errors.New("sealed value refused")
	// ErrSeal: sealing a value failed (a bug or a broken key ring).
	ErrSeal = errors.New("seal failed")
	// ErrOpen: a value carrying the sealed prefix did not open (tampered,
	// foreign, unknown key id) and Params.LeaveSealedOnOpenError is unset.
	ErrOpen = errors.New("open failed")
)

// errSealedMismatch: a value carrying the sealed prefix to be sealed does
// not open for the field it was sent in. Storing it would plant a value that
// fails on every read, so the write is refused.
var errSealedMismatch = fmt.Errorf("%w: value carries the sealed prefix but does not open for this field", ErrInvalidSealedValue)

var errSealedWrite = fmt.Errorf("%w: this caller may not send values that are already sealed", ErrSealedWrite)

// FieldError names the field that failed, by its configured path and class
// (never its value), and wraps a category.
type FieldError struct {
	Op    string // "seal", "open" or "write"
	Path  string // the field's configured path
	Class string
	Err   error
}

func (e *FieldError) Error() string {
	return e.Op + " field " + strconv.Quote(e.Path) + " (class " + e.Class + "): " + e.Err.Error()
}

// Unwrap returns the category.
func (e *FieldError) Unwrap() error { return e.Err }
