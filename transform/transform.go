package transform

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/mask"
	"github.com/fieldseal/fieldseal/rewrite"
)

// KeyRefresher fetches a key the current ring lacks; *keycache.Cache
// implements it. A sidecar that has not yet seen a rotation other sidecars
// already seal with meets values under the new key; rather than failing them
// until its next periodic refresh, a Transform asks once (per Refresh) and
// opens the value with the ring it gets. RefreshForKey must return at once
// when the ring has id, share one provider call among concurrent callers and
// rate-limit provider calls, since the id comes from stored data that may be
// forged. It returns a ring holding id and nil, or an error.
type KeyRefresher interface {
	RefreshForKey(ctx context.Context, id uint32) (*crypto.Keyring, error)
}

// Refresh is one unit of work's allowance of one on-demand key refresh
// (the proxy's: one per request, shared by its request and response
// transforms). Ctx bounds the wait. The zero value with Keys set is ready.
type Refresh struct {
	Keys  KeyRefresher
	Ctx   context.Context
	tried bool
}

// Params are one Transform's inputs: a side of a route (which values, which
// classes), a caller (what it may do per class) and a key ring.
type Params struct {
	// Ring seals and opens values (required). After a key refresh the
	// Transform uses the refreshed ring; see Transform.Ring.
	Ring *crypto.Keyring
	// Side names the values and their classes (required).
	Side *fieldmap.Side
	// Caller decides the action and write permission per class; nil is
	// FullAccess.
	Caller Caller
	// Context is the AAD context value (a route's context header); "" when
	// the route binds none.
	Context string
	// Masker renders values for ActionMask; nil masks every class fully
	// ("fsm:***", mask.Full).
	Masker Masker
	// LeaveSealedOnOpenError makes Open leave a value that carries the
	// sealed prefix but does not open (tampered, foreign, unknown key id)
	// as it is, counted as an error, instead of failing the document with
	// ErrOpen (the configuration's on_open_error: sealed).
	LeaveSealedOnOpenError bool
	// Refresh, if set, lets a value naming a key the ring lacks trigger one
	// on-demand key refresh before it counts as not opening.
	Refresh *Refresh
	// Stats receives a count of every value handled and the key ids used;
	// nil counts nothing.
	Stats *Stats
}

// Transform seals or opens the values one side of a route names, in whole
// JSON documents, for one caller. It holds the per-use decisions (the action
// per field, the write permissions, the AAD context) so that a policy is
// consulted once per Transform, not once per value. A Transform is cheap to
// set up in place (Reset), allocates nothing per document for routes of up to
// eight fields beyond the output, and is not safe for concurrent use; it
// must not be copied after Reset.
type Transform struct {
	ring    *crypto.Keyring
	side    *fieldmap.Side
	caller  Caller
	context string
	// actions[i] is the caller's action for side.Fields[i]'s class.
	actions   []Action
	actionBuf [8]Action
	// writeErr[i] is non-nil when the caller may not send side.Fields[i];
	// nil when every field may be sent. Filled by the first Seal.
	writeErr     []error
	writeChecked bool
	masker       Masker
	keepOnError  bool   // Params.LeaveSealedOnOpenError
	st           *Stats // nil: not counted
	changed      bool   // some value in the output differs from the input

	// refresh, if set, fetches a key the ring lacks. A pointer keeps the
	// Transform as small as it was for the hot path.
	refresh *Refresh

	aad     []byte // scratch: AAD of the current field, in aadBuf
	aadBuf  [96]byte
	scratch []byte // scratch: opened plaintext
}

// New returns a Transform set up for p.
func New(p Params) *Transform {
	t := new(Transform)
	t.Reset(p)
	return t
}

// Reset sets t up for p, looking up the caller's action for every field of
// p.Side. A Transform embedded in longer-lived state (the proxy's pooled
// request state) is reset in place and allocates nothing here for sides of
// up to eight fields.
func (t *Transform) Reset(p Params) {
	caller := p.Caller
	if caller == nil {
		caller = FullAccess{}
	}
	masker := p.Masker
	if masker == nil {
		masker = (*mask.Set)(nil) // every class: mask.Full
	}
	*t = Transform{
		ring: p.Ring, side: p.Side, caller: caller, context: p.Context, masker: masker,
		keepOnError: p.LeaveSealedOnOpenError, refresh: p.Refresh, st: p.Stats,
	}
	t.aad = t.aadBuf[:0]
	if len(p.Side.Fields) <= len(t.actionBuf) {
		t.actions = t.actionBuf[:len(p.Side.Fields)]
	} else {
		t.actions = make([]Action, len(p.Side.Fields))
	}
	for i, f := range p.Side.Fields {
		t.actions[i] = caller.Action(f.Class.Name).normalize()
	}
}

// checkWrites records, once, which fields the caller may not send.
func (t *Transform) checkWrites() {
	t.writeChecked = true
	for i, f := range t.side.Fields {
		var err error
		switch {
		case t.actions[i] == ActionDeny:
			err = fmt.Errorf("%w: class is denied to this caller", ErrForbidden)
		case !t.caller.MayWrite(f.Class.Name):
			err = fmt.Errorf("%w: caller may not write this class", ErrForbidden)
		default:
			continue
		}
		if t.writeErr == nil {
			t.writeErr = make([]error, len(t.side.Fields))
		}
		t.writeErr[i] = &FieldError{Op: "write", Path: f.Path, Class: f.Class.Name, Err: err}
	}
}

// Ring returns the key ring t uses: Params.Ring, or the ring an on-demand
// refresh brought.
func (t *Transform) Ring() *crypto.Keyring { return t.ring }

// Changed reports whether some value t wrote differs from its input (a
// document whose values were all kept is byte for byte the input).
func (t *Transform) Changed() bool { return t.changed }

// Seal appends doc to dst with every value of the side sealed; values that
// are already sealed (and open for their field) are kept, so writes are
// idempotent. doc is validated in the same pass. An error means the output
// must not be used: a *FieldError for a value (ErrForbidden, ErrMaskedValue,
// ErrInvalidSealedValue, ErrSeal), rewrite.ErrInvalidJSON for a document
// that is not JSON, or an overlap of wildcard matches (rewrite.ErrOverlap).
func (t *Transform) Seal(dst, doc []byte) ([]byte, error) {
	if !t.writeChecked {
		t.checkWrites()
	}
	// Sealing grows each value by about a third plus ~50 bytes; twice the
	// document holds any realistic output without regrowing mid-pass.
	dst = slices.Grow(dst, 2*len(doc))
	return t.side.Plan.Apply(dst, doc, t.sealValue)
}

// Open appends doc to dst with every value of the side handled according to
// the caller's action for its class: decrypted, masked, left sealed (also for
// ActionDeny, counted as denied). Legacy plaintext (no sealed prefix) is kept
// for ActionDecrypt, masked for ActionMask and sealed for the others, so a
// caller never receives plaintext it may not read. A value that does not
// open is a *FieldError wrapping ErrOpen, unless LeaveSealedOnOpenError is
// set; document errors are as for Seal.
func (t *Transform) Open(dst, doc []byte) ([]byte, error) {
	// Opened values are shorter than sealed ones: the output rarely
	// outgrows the input.
	dst = slices.Grow(dst, len(doc))
	return t.side.Plan.Apply(dst, doc, t.openValue)
}

func (t *Transform) setAAD(class string) {
	t.aad = crypto.AAD(t.aad[:0], class, t.context)
}

func (t *Transform) sealValue(out []byte, i int, raw []byte) ([]byte, error) {
	f := t.side.Fields[i]
	class := f.Class.Name
	if t.writeErr != nil && t.writeErr[i] != nil {
		err := t.writeErr[i]
		t.st.add(class, t.actions[i], OpSeal, ResultDenied)
		return out, err
	}
	if f.Class.Operators && raw[0] == '{' && isOperatorObject(raw) {
		return t.sealOperators(out, i, raw)
	}
	return t.sealPlain(out, i, raw)
}

// sealPlain seals one value of field i (the caller may write it).
func (t *Transform) sealPlain(out []byte, i int, raw []byte) ([]byte, error) {
	f := t.side.Fields[i]
	class := f.Class.Name
	if keepsEmpty(f.Class, raw) {
		t.st.add(class, t.actions[i], OpKeep, ResultEmpty)
		return append(out, raw...), nil
	}
	t.setAAD(class)
	typ := jsonType(raw)
	plaintext := raw
	if typ == crypto.TypeString {
		plaintext = rewrite.StringContent(raw)
		if mask.IsMasked(plaintext) {
			t.st.add(class, t.actions[i], OpSeal, ResultMasked)
			return out, &FieldError{Op: "write", Path: f.Path, Class: class, Err: fmt.Errorf("%w: send the real value or omit the field", ErrMaskedValue)}
		}
		if crypto.IsSealed(plaintext) {
			pt, _, keyID, err := t.ring.Open(t.scratch[:0], plaintext, t.aad)
			if err != nil {
				pt, _, keyID, err = t.openWithRefreshedRing(pt, plaintext, keyID, err)
			}
			t.scratch = pt[:0]
			if err != nil {
				t.st.add(class, t.actions[i], OpKeep, ResultError)
				return out, &FieldError{Op: "seal", Path: f.Path, Class: class, Err: errSealedMismatch}
			}
			t.st.add(class, t.actions[i], OpKeep, ResultAlreadySealed)
			t.st.key(keyID)
			return append(out, raw...), nil
		}
	}
	out, err := t.seal(out, plaintext, typ, f.Class)
	if err != nil {
		t.st.add(class, t.actions[i], OpSeal, ResultError)
		return out, &FieldError{Op: "seal", Path: f.Path, Class: class, Err: err}
	}
	t.st.add(class, t.actions[i], OpSeal, ResultOK)
	return out, nil
}

// seal appends plaintext sealed for class as a JSON string; t.aad must be set.
func (t *Transform) seal(out, plaintext []byte, typ crypto.JSONType, class *fieldmap.Class) ([]byte, error) {
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

func (t *Transform) openValue(out []byte, i int, raw []byte) ([]byte, error) {
	f := t.side.Fields[i]
	class := f.Class.Name
	a := t.actions[i]
	if keepsEmpty(f.Class, raw) {
		t.st.add(class, a, OpKeep, ResultEmpty)
		return append(out, raw...), nil
	}
	typ := jsonType(raw)
	plaintext := raw
	if typ == crypto.TypeString {
		plaintext = rewrite.StringContent(raw)
	}
	if typ != crypto.TypeString || !crypto.IsSealed(plaintext) {
		// Legacy plaintext: a caller that may read the class gets it as it
		// is; any other caller must not see it.
		switch a {
		case ActionDecrypt:
			t.st.add(class, a, OpKeep, ResultLegacy)
			return append(out, raw...), nil
		case ActionMask:
			t.st.add(class, a, OpMask, ResultLegacy)
			t.changed = true
			return rewrite.AppendString(out, t.mask(class, plaintext, typ)), nil
		default:
			t.setAAD(class)
			out, err := t.seal(out, plaintext, typ, f.Class)
			if err != nil {
				t.st.add(class, a, OpSeal, ResultError)
				return out, &FieldError{Op: "seal", Path: f.Path, Class: class, Err: err}
			}
			t.st.add(class, a, OpSeal, ResultLegacy)
			return out, nil
		}
	}
	switch a {
	case ActionSealed:
		t.st.add(class, a, OpKeep, ResultOK)
		return append(out, raw...), nil
	case ActionDecrypt, ActionMask:
	default:
		t.st.add(class, a, OpKeep, ResultDenied)
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
		t.st.add(class, a, OpOpen, ResultError)
		if t.keepOnError {
			return append(out, raw...), nil
		}
		return out, &FieldError{Op: "open", Path: f.Path, Class: class, Err: fmt.Errorf("%w: %w", ErrOpen, err)}
	}
	t.st.key(keyID)
	t.changed = true
	if a == ActionMask {
		t.st.add(class, a, OpMask, ResultOK)
		return rewrite.AppendString(out, t.mask(class, pt, ptType)), nil
	}
	t.st.add(class, a, OpOpen, ResultOK)
	if ptType == crypto.TypeString {
		return rewrite.AppendString(out, pt), nil
	}
	return append(out, pt...), nil
}

// openWithRefreshedRing handles an Open that failed with openErr. If the
// value names a key the ring lacks, it asks the KeyRefresher (once per
// Refresh, shared by every Transform given it) for a ring holding keyID,
// switches the rest of the document to that ring and opens the value again. Otherwise, or if the refresh does not
// bring the key, it returns openErr. Values that open never come here, so
// the hot path does no extra work.
func (t *Transform) openWithRefreshedRing(dst, sealed []byte, keyID uint32, openErr error) ([]byte, crypto.JSONType, uint32, error) {
	kr := t.refresh
	if kr == nil || !errors.Is(openErr, crypto.ErrUnknownKey) {
		return dst, 0, keyID, openErr
	}
	if kr.tried {
		return dst, 0, keyID, fmt.Errorf("%w (the request already refreshed the key ring once)", openErr)
	}
	kr.tried = true
	ring, err := kr.Keys.RefreshForKey(kr.Ctx, keyID)
	if err != nil || ring == nil {
		// The refresh error goes to the log as text only: the category
		// stays the open failure (LeaveSealedOnOpenError decides what
		// follows).
		return dst, 0, keyID, fmt.Errorf("%w (on-demand key refresh: %v)", openErr, err)
	}
	t.ring = ring
	return t.ring.Open(dst, sealed, t.aad)
}

// mask renders plaintext for ActionMask as the Masker's text.
func (t *Transform) mask(class string, plaintext []byte, typ crypto.JSONType) []byte {
	return []byte(t.masker.Mask(class, plaintext, typ == crypto.TypeString))
}

// keepsEmpty reports whether raw is null or "" and class leaves such values
// as they are (Class.SealEmpty off). An empty value holds no personal data;
// sealing it would turn an empty required field into a non-empty ciphertext
// that passes the application's validation. Escaped forms of "" do not
// exist (an empty string has no characters to escape), so the raw bytes
// decide.
func keepsEmpty(class *fieldmap.Class, raw []byte) bool {
	return !class.SealEmpty && (string(raw) == "null" || string(raw) == `""`)
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
