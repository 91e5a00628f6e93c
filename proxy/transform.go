package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
)

// Field ops and results: the op and result labels of
// fieldseal_proxy_fields_total and of FieldStat.
const (
	opSeal = "seal"
	opOpen = "open"
	opMask = "mask"
	opKeep = "keep"

	resultOK            = "ok"
	resultAlreadySealed = "already_sealed"
	resultLegacy        = "legacy"
	resultDenied        = "denied"
	resultMasked        = "masked_value"
	resultError         = "error"
)

// errSealedMismatch: a value carrying the sealed prefix sent by a client
// does not open for the field it was sent in (another class or context, a
// forged or truncated value). Storing it would plant a value that fails on
// every read, so the write is refused.
var errSealedMismatch = fmt.Errorf("%w: value carries the sealed prefix but does not open for this field", ErrInvalidSealedValue)

// transform rewrites one side of a route in one document for one request.
// It holds the per-request decisions (actions per field, AAD context) so that
// policies are looked up once per request, not per value; the per-value
// functions only dispatch on them. Not safe for concurrent use.
type transform struct {
	ring    *crypto.Keyring
	side    *fieldmap.Side
	context string
	// actions[i] is the caller's action for side.Fields[i]'s class.
	actions   []Action
	actionBuf [8]Action
	// writeErr[i] is non-nil when the caller may not send side.Fields[i]
	// (request side only; nil when every field may be sent).
	writeErr    []error
	masker      Masker
	keepOnError bool // OnOpenError "sealed"
	st          *stats
	changed     bool // some value in the output differs from the input

	// refresh, if set, fetches a key the ring lacks; it is the request's,
	// shared by both sides. A pointer keeps the transform as small as it
	// was for the hot path.
	refresh *keyRefresh

	aad     []byte // scratch: AAD of the current field, in aadBuf
	aadBuf  [96]byte
	scratch []byte // scratch: opened plaintext
}

// init looks up the caller's decisions for every field of side. t is
// usually embedded in the request state, so a request allocates nothing
// here for routes of up to len(t.actionBuf) fields.
func (t *transform) init(ring *crypto.Keyring, side *fieldmap.Side, caller Caller, context string, write bool, st *stats) {
	*t = transform{ring: ring, side: side, context: context, st: st}
	t.aad = t.aadBuf[:0] // t must not be copied after init
	if len(side.Fields) <= len(t.actionBuf) {
		t.actions = t.actionBuf[:len(side.Fields)]
	} else {
		t.actions = make([]Action, len(side.Fields))
	}
	for i, f := range side.Fields {
		a := caller.Action(f.Class.Name).normalize()
		t.actions[i] = a
		if !write {
			continue
		}
		var err error
		switch {
		case a == ActionDeny:
			err = fmt.Errorf("%w: class is denied to this caller", ErrForbidden)
		case !caller.MayWrite(f.Class.Name):
			err = fmt.Errorf("%w: caller may not write this class", ErrForbidden)
		default:
			continue
		}
		if t.writeErr == nil {
			t.writeErr = make([]error, len(side.Fields))
		}
		t.writeErr[i] = &fieldError{op: "write", path: f.Path, class: f.Class.Name, err: err}
	}
}

// newTransform allocates and initialises a transform.
func newTransform(ring *crypto.Keyring, side *fieldmap.Side, caller Caller, context string, write bool, st *stats) *transform {
	t := new(transform)
	t.init(ring, side, caller, context, write, st)
	return t
}

// sealDoc appends doc to dst with every configured value sealed; values that
// are already sealed (and open for their field) are kept, so writes are
// idempotent. Any error means the output must not be forwarded.
func (t *transform) sealDoc(dst, doc []byte) ([]byte, error) {
	// Sealing grows each value by about a third plus ~50 bytes; twice the
	// document holds any realistic output without regrowing mid-pass.
	dst = slices.Grow(dst, 2*len(doc))
	return t.side.Plan.Apply(dst, doc, t.sealValue)
}

// openDoc appends doc to dst with every configured value handled according
// to the caller's action for its class.
func (t *transform) openDoc(dst, doc []byte) ([]byte, error) {
	// Opened values are shorter than sealed ones: the output rarely
	// outgrows the input.
	dst = slices.Grow(dst, len(doc))
	return t.side.Plan.Apply(dst, doc, t.openValue)
}

func (t *transform) setAAD(class string) {
	t.aad = crypto.AAD(t.aad[:0], class, t.context)
}

func (t *transform) sealValue(out []byte, i int, raw []byte) ([]byte, error) {
	f := t.side.Fields[i]
	class := f.Class.Name
	if t.writeErr != nil && t.writeErr[i] != nil {
		err := t.writeErr[i]
		t.st.add(class, t.actions[i], opSeal, resultDenied)
		return out, err
	}
	t.setAAD(class)
	typ := jsonType(raw)
	plaintext := raw
	if typ == crypto.TypeString {
		plaintext = stringContent(raw)
		if t.isMasked(plaintext) {
			t.st.add(class, t.actions[i], opSeal, resultMasked)
			return out, &fieldError{op: "write", path: f.Path, class: class, err: fmt.Errorf("%w: send the real value or omit the field", ErrMaskedValue)}
		}
		if crypto.IsSealed(plaintext) {
			pt, _, keyID, err := t.ring.Open(t.scratch[:0], plaintext, t.aad)
			if err != nil {
				pt, _, keyID, err = t.openWithRefreshedRing(pt, plaintext, keyID, err)
			}
			t.scratch = pt[:0]
			if err != nil {
				t.st.add(class, t.actions[i], opKeep, resultError)
				return out, &fieldError{op: "seal", path: f.Path, class: class, err: errSealedMismatch}
			}
			t.st.add(class, t.actions[i], opKeep, resultAlreadySealed)
			t.st.key(keyID)
			return append(out, raw...), nil
		}
	}
	out, err := t.seal(out, plaintext, typ, f.Class)
	if err != nil {
		t.st.add(class, t.actions[i], opSeal, resultError)
		return out, &fieldError{op: "seal", path: f.Path, class: class, err: err}
	}
	t.st.add(class, t.actions[i], opSeal, resultOK)
	return out, nil
}

// seal appends plaintext sealed for class as a JSON string; t.aad must be set.
func (t *transform) seal(out, plaintext []byte, typ crypto.JSONType, class *fieldmap.Class) ([]byte, error) {
	mode := crypto.ModeRandom
	if class.Deterministic {
		mode = crypto.ModeDeterministic
	}
	out = append(out, '"')
	out, err := t.ring.Seal(out, plaintext, typ, mode, t.aad)
	if err != nil {
		return out, fmt.Errorf("%w: %w", ErrSeal, err)
	}
	t.st.key(t.ring.Primary())
	t.changed = true
	return append(out, '"'), nil
}

func (t *transform) openValue(out []byte, i int, raw []byte) ([]byte, error) {
	f := t.side.Fields[i]
	class := f.Class.Name
	a := t.actions[i]
	typ := jsonType(raw)
	plaintext := raw
	if typ == crypto.TypeString {
		plaintext = stringContent(raw)
	}
	if typ != crypto.TypeString || !crypto.IsSealed(plaintext) {
		// Legacy plaintext: a caller that may read the class gets it as it
		// is; any other caller must not see it.
		switch a {
		case ActionDecrypt:
			t.st.add(class, a, opKeep, resultLegacy)
			return append(out, raw...), nil
		case ActionMask:
			t.st.add(class, a, opMask, resultLegacy)
			t.changed = true
			return appendJSONString(out, t.mask(class, plaintext, typ)), nil
		default:
			t.setAAD(class)
			out, err := t.seal(out, plaintext, typ, f.Class)
			if err != nil {
				t.st.add(class, a, opSeal, resultError)
				return out, &fieldError{op: "seal", path: f.Path, class: class, err: err}
			}
			t.st.add(class, a, opSeal, resultLegacy)
			return out, nil
		}
	}
	switch a {
	case ActionSealed:
		t.st.add(class, a, opKeep, resultOK)
		return append(out, raw...), nil
	case ActionDecrypt, ActionMask:
	default:
		t.st.add(class, a, opKeep, resultDenied)
		return append(out, raw...), nil
	}
	t.setAAD(class)
	pt, ptType, keyID, err := t.ring.Open(t.scratch[:0], plaintext, t.aad)
	if err != nil {
		pt, ptType, keyID, err = t.openWithRefreshedRing(pt, plaintext, keyID, err)
	}
	t.scratch = pt[:0]
	if err == nil && ptType != crypto.TypeString && !gjson.ValidBytes(pt) {
		err = fmt.Errorf("opened %d-typed value is not JSON: %w", ptType, crypto.ErrMalformed)
	}
	if err != nil {
		t.st.add(class, a, opOpen, resultError)
		if t.keepOnError {
			return append(out, raw...), nil
		}
		return out, &fieldError{op: "open", path: f.Path, class: class, err: fmt.Errorf("%w: %w", ErrOpen, err)}
	}
	t.st.key(keyID)
	t.changed = true
	if a == ActionMask {
		t.st.add(class, a, opMask, resultOK)
		return appendJSONString(out, t.mask(class, pt, ptType)), nil
	}
	t.st.add(class, a, opOpen, resultOK)
	if ptType == crypto.TypeString {
		return appendJSONString(out, pt), nil
	}
	return append(out, pt...), nil
}

// keyRefresh is one request's allowance of one on-demand key refresh.
type keyRefresh struct {
	keys  KeyRefresher
	ctx   context.Context // the request's: bounds the wait
	tried bool
}

// openWithRefreshedRing handles an Open that failed with openErr. If the
// value names a key the ring lacks, it asks the KeyRefresher (once per
// request) for a ring holding keyID, switches the rest of the document to
// that ring and opens the value again. Otherwise, or if the refresh does not
// bring the key, it returns openErr. Values that open never come here, so
// the hot path does no extra work.
func (t *transform) openWithRefreshedRing(dst, sealed []byte, keyID uint32, openErr error) ([]byte, crypto.JSONType, uint32, error) {
	kr := t.refresh
	if kr == nil || !errors.Is(openErr, crypto.ErrUnknownKey) {
		return dst, 0, keyID, openErr
	}
	if kr.tried {
		return dst, 0, keyID, fmt.Errorf("%w (the request already refreshed the key ring once)", openErr)
	}
	kr.tried = true
	ring, err := kr.keys.RefreshForKey(kr.ctx, keyID)
	if err != nil || ring == nil {
		// The refresh error goes to the log as text only: the category
		// stays the open failure (OnOpenError decides what follows).
		return dst, 0, keyID, fmt.Errorf("%w (on-demand key refresh: %v)", openErr, err)
	}
	t.ring = ring
	return t.ring.Open(dst, sealed, t.aad)
}

func (t *transform) isMasked(content []byte) bool {
	if d, ok := t.masker.(maskDetector); ok {
		return d.IsMasked(content)
	}
	return bytes.HasPrefix(content, []byte(MaskedPrefix))
}

func (t *transform) mask(class string, plaintext []byte, typ crypto.JSONType) []byte {
	if t.masker == nil {
		return fixedMasker{}.Mask(class, plaintext, typ)
	}
	return t.masker.Mask(class, plaintext, typ)
}

// jsonType tells the JSON type of a raw value by its first byte; the
// document has been validated, so the first byte decides.
func jsonType(raw []byte) crypto.JSONType {
	switch raw[0] {
	case '"':
		return crypto.TypeString
	case '{':
		return crypto.TypeObject
	case '[':
		return crypto.TypeArray
	case 't', 'f':
		return crypto.TypeBool
	case 'n':
		return crypto.TypeNull
	default:
		return crypto.TypeNumber
	}
}
