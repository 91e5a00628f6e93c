package transform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"unsafe"

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
	// AcceptSealed lets Seal keep a value that is already sealed (and opens
	// for its field) whatever the caller; without it only a caller that
	// implements SealedWriter and allows it may send sealed values
	// (guard.sealed_writes: accept, for deployments without authentication).
	AcceptSealed bool
	// KeepSealedElsewhere makes Seal keep a well-formed sealed value at a
	// place no path or member of the side names as it is, unopened: for a
	// second pass, under another route's side, over the output of a first
	// Seal, which sealed or checked every sealed value in the document.
	// Values the side names, and sealed values inside a value it seals
	// whole, are handled as always (with AcceptSealed: kept when they open
	// for their field or class).
	KeepSealedElsewhere bool
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
	// actions[c] is the caller's action for the class of Index c.
	actions   []Action
	actionBuf [8]Action
	// writeErr[c] is non-nil when the caller may not send the class of
	// Index c; nil when every class may be sent. Filled by the first Seal.
	writeErr            []error
	writeChecked        bool
	acceptSealed        bool
	keepSealedElsewhere bool
	// whole counts the values being sealed whole that sealPlain is inside:
	// a sealed value in one is sealed again with it, so it must open here
	// even with keepSealedElsewhere.
	whole       int
	masker      Masker
	keepOnError bool   // Params.LeaveSealedOnOpenError
	st          *Stats // nil: not counted
	changed     bool   // some value in the output differs from the input

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
		acceptSealed: p.AcceptSealed, keepSealedElsewhere: p.KeepSealedElsewhere,
	}
	t.aad = t.aadBuf[:0]
	classes := p.Side.Classes
	if len(classes) <= len(t.actionBuf) {
		t.actions = t.actionBuf[:len(classes)]
	} else {
		t.actions = make([]Action, len(classes))
	}
	for i, c := range classes {
		t.actions[i] = caller.Action(c.Name).normalize()
	}
}

// checkWrites records, once, which fields the caller may not send.
func (t *Transform) checkWrites() {
	t.writeChecked = true
	for i, c := range t.side.Classes {
		var err error
		switch {
		case t.actions[i] == ActionDeny:
			err = fmt.Errorf("%w: class is denied to this caller", ErrForbidden)
		case !t.caller.MayWrite(c.Name):
			err = fmt.Errorf("%w: caller may not write this class", ErrForbidden)
		default:
			continue
		}
		if t.writeErr == nil {
			t.writeErr = make([]error, len(t.side.Classes))
		}
		t.writeErr[i] = err
	}
}

// maySendSealed reports whether the caller may send a value of class c that
// is already sealed: only by an explicit grant (SealedWriter, or
// Params.AcceptSealed), never because it reads the class sealed, since a
// least-privilege default (every class sealed, for anonymous callers too)
// would otherwise let anyone plant a value copied from another record.
func (t *Transform) maySendSealed(c *fieldmap.Class) bool {
	if t.acceptSealed {
		return true
	}
	w, ok := t.caller.(SealedWriter)
	return ok && w.MayWriteSealed(c.Name)
}

// field resolves match index i of the side's plan: the field, how it was
// matched and the caller's action for its class. A ViaPrefix match names no
// field: f is zero and a is not an action.
func (t *Transform) field(i int) (f fieldmap.Field, via string, a Action) {
	f, ok := t.side.Field(i)
	if !ok {
		return f, ViaPrefix, 0
	}
	via = ViaPath
	if i >= len(t.side.Fields) {
		via = ViaMember
	}
	return f, via, t.actions[f.Class.Index]
}

// Ring returns the key ring t uses: Params.Ring, or the ring an on-demand
// refresh brought.
func (t *Transform) Ring() *crypto.Keyring { return t.ring }

// SetContext sets the AAD context for the values sealed or opened next, for
// a context read from the document itself (a route's context.member).
func (t *Transform) SetContext(context string) { t.context = context }

// OpensOnly reports whether the caller decrypts every class: Open of a
// document without a sealed value then leaves it unchanged, so a caller
// may skip it.
func (t *Transform) OpensOnly() bool {
	for _, a := range t.actions {
		if a != ActionDecrypt {
			return false
		}
	}
	return true
}

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
	// document holds any realistic output without regrowing mid-pass. A
	// document sealed in its own buffer (dst == doc[:0], see
	// rewrite.Plan.Apply) must stay there.
	if len(doc) == 0 || unsafe.SliceData(dst) != unsafe.SliceData(doc) {
		dst = slices.Grow(dst, 2*len(doc))
	}
	return t.side.Plan.Apply(dst, doc, t.sealValue)
}

// SealForm is Seal for an application/x-www-form-urlencoded body: every
// field whose name stands for a class member (rewrite.Plan.FormMember) is
// sealed as a string. Paths do not apply to forms.
func (t *Transform) SealForm(dst, body []byte) ([]byte, error) {
	if !t.writeChecked {
		t.checkWrites()
	}
	return t.side.Plan.ApplyForm(dst, body, t.sealValue)
}

// SealMultipart is Seal for a multipart/form-data body with boundary,
// streamed from r to w: every non-file part whose field name stands for a
// class member is sealed as a string (at most maxValue bytes each); a file
// part named like a member is rewrite.ErrFormFile. hold (nil: none) is
// told the capacity of each buffer a part is read into before it grows
// (rewrite.Plan.ApplyMultipart); its error ends the body.
func (t *Transform) SealMultipart(w io.Writer, r io.Reader, boundary string, maxValue int64, hold func(capacity int64) error) error {
	if !t.writeChecked {
		t.checkWrites()
	}
	return t.side.Plan.ApplyMultipart(w, r, boundary, maxValue, hold, t.sealValue)
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
	f, via, a := t.field(i)
	if via == ViaPrefix {
		return t.sealedAnywhere(out, raw)
	}
	class := f.Class.Name
	if t.writeErr != nil && t.writeErr[f.Class.Index] != nil {
		t.st.add(class, a, OpSeal, ResultDenied, via)
		return out, &FieldError{Op: "write", Path: f.Path, Class: class, Err: t.writeErr[f.Class.Index]}
	}
	if f.Class.Operators && raw[0] == '{' && isOperatorObject(raw) {
		return t.sealOperators(out, i, raw)
	}
	return t.sealPlain(out, i, raw)
}

// sealPlain seals one value of field i (the caller may write it).
func (t *Transform) sealPlain(out []byte, i int, raw []byte) ([]byte, error) {
	f, via, a := t.field(i)
	class := f.Class.Name
	if t.keptEmpty(f.Class, a, via, raw) {
		return append(out, raw...), nil
	}
	t.setAAD(class)
	typ := jsonType(raw)
	plaintext := raw
	if typ == crypto.TypeString {
		plaintext = rewrite.StringContent(raw)
		if mask.IsMasked(plaintext) {
			t.st.add(class, a, OpSeal, ResultMasked, via)
			return out, &FieldError{Op: "write", Path: f.Path, Class: class, Err: fmt.Errorf("%w: send the real value or omit the field", ErrMaskedValue)}
		}
		if crypto.IsSealed(plaintext) {
			if !t.maySendSealed(f.Class) {
				t.st.add(class, a, OpKeep, ResultSealedRefused, via)
				return out, &FieldError{Op: "write", Path: f.Path, Class: class, Err: errSealedWrite}
			}
			_, _, keyID, err := t.open(plaintext)
			if err != nil {
				t.st.add(class, a, OpKeep, ResultError, via)
				return out, &FieldError{Op: "seal", Path: f.Path, Class: class, Err: errSealedMismatch}
			}
			t.st.add(class, a, OpKeep, ResultAlreadySealed, via)
			t.st.key(keyID)
			return append(out, raw...), nil
		}
	}
	if typ == crypto.TypeObject || typ == crypto.TypeArray {
		// Class members inside a value sealed whole are sealed first, with
		// their own class and the caller's rights for it, so that opening
		// the outer value never hands over a member the caller may not read.
		t.whole++
		inner, err := t.inner(nil, raw, t.sealValue)
		t.whole--
		if err != nil {
			return out, err
		}
		plaintext = inner
	}
	return t.seal(out, plaintext, typ, f, a, via, ResultOK)
}

// inner applies the side's Inner plan (class members and sealed values
// inside an object or array matched whole) to raw with fn, appending to
// dst; without an Inner plan raw is appended as it is.
func (t *Transform) inner(dst, raw []byte, fn func(out []byte, i int, raw []byte) ([]byte, error)) ([]byte, error) {
	p := t.side.Inner
	if p == nil {
		return append(dst, raw...), nil
	}
	off := len(t.side.Fields)
	return p.Apply(dst, raw, func(out []byte, i int, v []byte) ([]byte, error) {
		if i >= 0 {
			i += off
		}
		return fn(out, i, v)
	})
}

// sealedAnywhere handles, in a document to seal, a string carrying the
// sealed prefix at a place no path or member names. A value that is not
// well formed is text that happens to start like one and is kept; a well
// formed one is kept only where the caller may send sealed values of the
// class it opens for, since whoever reads this record through fieldseal
// would otherwise get another record's plaintext.
func (t *Transform) sealedAnywhere(out, raw []byte) ([]byte, error) {
	content := rewrite.StringContent(raw)
	if !crypto.WellFormed(content) || t.keepSealedElsewhere && t.whole == 0 {
		return append(out, raw...), nil
	}
	c, keyID, pt, _, err := t.openAny(content)
	t.scratch = pt[:0]
	if err != nil || !t.maySendSealed(c) {
		name := ""
		if c != nil {
			name = c.Name
		}
		t.st.add(name, 0, OpKeep, ResultSealedRefused, ViaPrefix)
		return out, &FieldError{Op: "write", Path: "(a sealed value)", Class: name, Err: errSealedWrite}
	}
	t.st.add(c.Name, t.actions[c.Index], OpKeep, ResultAlreadySealed, ViaPrefix)
	t.st.key(keyID)
	return append(out, raw...), nil
}

// openAny finds the class a sealed value opens for, trying each class's AAD
// (the AEAD tells the right one from the others), with one on-demand key
// refresh for a key the ring lacks. It returns the plaintext (in t.scratch's
// array: the caller sets t.scratch = pt[:0] once done with it) and its type.
func (t *Transform) openAny(sealed []byte) (c *fieldmap.Class, keyID uint32, pt []byte, typ crypto.JSONType, err error) {
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		for _, c := range t.side.Classes {
			t.setAAD(c.Name)
			pt, typ, keyID, err := t.ring.Open(t.scratch[:0], sealed, t.aad)
			if err == nil {
				return c, keyID, pt, typ, nil
			}
			lastErr = err
			if errors.Is(err, crypto.ErrUnknownKey) {
				if attempt == 0 && t.refreshFor(keyID) {
					break // retry every class with the refreshed ring
				}
				return nil, keyID, nil, 0, err
			}
		}
		if !errors.Is(lastErr, crypto.ErrUnknownKey) {
			break
		}
	}
	if lastErr == nil {
		lastErr = crypto.ErrMalformed
	}
	return nil, 0, nil, 0, lastErr
}

// seal appends plaintext, a value of field f, sealed for its class (and
// the context) as a JSON string, and counts it under the caller's action a
// with result (or ResultError: then the error is a *FieldError wrapping
// ErrSeal).
func (t *Transform) seal(out, plaintext []byte, typ crypto.JSONType, f fieldmap.Field, a Action, via, result string) ([]byte, error) {
	mode := crypto.ModeRandom
	if f.Class.Deterministic {
		mode = crypto.ModeDeterministic
	}
	// The AAD is set here, not by the caller: sealing the members inside
	// a value sealed whole set it to theirs.
	t.setAAD(f.Class.Name)
	out = append(out, '"')
	out, err := t.ring.Seal(out, plaintext, typ, mode, t.aad)
	if err != nil {
		t.st.add(f.Class.Name, a, OpSeal, ResultError, via)
		return out, &FieldError{Op: "seal", Path: f.Path, Class: f.Class.Name, Err: fmt.Errorf("%w: %w", ErrSeal, err)}
	}
	t.st.key(t.ring.SealingKey(mode))
	t.changed = true
	t.st.add(f.Class.Name, a, OpSeal, result, via)
	return append(out, '"'), nil
}

func (t *Transform) openValue(out []byte, i int, raw []byte) ([]byte, error) {
	f, via, a := t.field(i)
	if via == ViaPrefix {
		return t.openAnywhere(out, raw)
	}
	class := f.Class.Name
	if t.keptEmpty(f.Class, a, via, raw) {
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
			t.st.add(class, a, OpKeep, ResultLegacy, via)
			if typ == crypto.TypeObject || typ == crypto.TypeArray {
				return t.inner(out, raw, t.openValue) // members inside have their own action
			}
			return append(out, raw...), nil
		case ActionMask:
			t.st.add(class, a, OpMask, ResultLegacy, via)
			t.changed = true
			return rewrite.AppendString(out, t.mask(class, plaintext, typ)), nil
		default:
			return t.seal(out, plaintext, typ, f, a, via, ResultLegacy)
		}
	}
	if t.leftSealed(class, a, via) {
		return append(out, raw...), nil
	}
	t.setAAD(class)
	pt, ptType, keyID, err := t.open(plaintext)
	if err == nil && ptType != crypto.TypeString && !gjson.ValidBytes(pt) {
		err = fmt.Errorf("opened %d-typed value is not JSON: %w", ptType, crypto.ErrMalformed)
	}
	if err != nil {
		t.st.add(class, a, OpOpen, ResultError, via)
		if t.keepOnError {
			return append(out, raw...), nil
		}
		return out, &FieldError{Op: "open", Path: f.Path, Class: class, Err: fmt.Errorf("%w: %w", ErrOpen, err)}
	}
	t.st.key(keyID)
	t.changed = true
	if a == ActionMask {
		t.st.add(class, a, OpMask, ResultOK, via)
		return rewrite.AppendString(out, t.mask(class, pt, ptType)), nil
	}
	t.st.add(class, a, OpOpen, ResultOK, via)
	if ptType == crypto.TypeString {
		return rewrite.AppendString(out, pt), nil
	}
	if ptType == crypto.TypeObject || ptType == crypto.TypeArray {
		// Members sealed inside get their own class's action; pt lives in
		// t.scratch, which opening them reuses.
		return t.inner(out, bytes.Clone(pt), t.openValue)
	}
	return append(out, pt...), nil
}

// openAnywhere handles, in a document to open, a string carrying the sealed
// prefix at a place no path or member names: it is opened for the class it
// opens for, with the caller's action for that class. A value that opens for
// no class (text that starts like a sealed value, or one sealed under
// another context) is left as it is: that is never plaintext, and a free
// text field must not fail the response.
func (t *Transform) openAnywhere(out, raw []byte) ([]byte, error) {
	content := rewrite.StringContent(raw)
	if !crypto.WellFormed(content) {
		return append(out, raw...), nil
	}
	c, keyID, pt, ptType, err := t.openAny(content)
	t.scratch = pt[:0]
	if err != nil {
		t.st.add("", 0, OpKeep, ResultError, ViaPrefix)
		return append(out, raw...), nil
	}
	a := t.actions[c.Index]
	if t.leftSealed(c.Name, a, ViaPrefix) {
		return append(out, raw...), nil
	}
	if ptType != crypto.TypeString && !gjson.ValidBytes(pt) {
		t.st.add(c.Name, a, OpOpen, ResultError, ViaPrefix)
		return append(out, raw...), nil
	}
	t.st.key(keyID)
	t.changed = true
	if a == ActionMask {
		t.st.add(c.Name, a, OpMask, ResultOK, ViaPrefix)
		return rewrite.AppendString(out, t.mask(c.Name, pt, ptType)), nil
	}
	t.st.add(c.Name, a, OpOpen, ResultOK, ViaPrefix)
	if ptType == crypto.TypeString {
		return rewrite.AppendString(out, pt), nil
	}
	return append(out, pt...), nil
}

// leftSealed records a sealed value of class that the caller's action a
// does not open (ActionSealed: kept as asked; any action but ActionDecrypt
// and ActionMask: denied) and reports whether it is left as it is.
func (t *Transform) leftSealed(class string, a Action, via string) bool {
	switch a {
	case ActionDecrypt, ActionMask:
		return false
	case ActionSealed:
		t.st.add(class, a, OpKeep, ResultOK, via)
	default:
		t.st.add(class, a, OpKeep, ResultDenied, via)
	}
	return true
}

// open opens sealed under t.aad, with one on-demand key refresh for a key
// the ring lacks (openWithRefreshedRing). The plaintext is in t.scratch's
// array: it stays valid until the next use of t.scratch.
func (t *Transform) open(sealed []byte) (pt []byte, typ crypto.JSONType, keyID uint32, err error) {
	pt, typ, keyID, err = t.ring.Open(t.scratch[:0], sealed, t.aad)
	if err != nil {
		pt, typ, keyID, err = t.openWithRefreshedRing(pt, sealed, keyID, err)
	}
	t.scratch = pt[:0]
	return pt, typ, keyID, err
}

// refreshFor asks for a ring holding keyID once per Refresh and switches to
// it; it reports whether the ring now has the key.
func (t *Transform) refreshFor(keyID uint32) bool {
	kr := t.refresh
	if kr == nil || kr.tried {
		return false
	}
	kr.tried = true
	ring, err := kr.Keys.RefreshForKey(kr.Ctx, keyID)
	if err != nil || ring == nil {
		return false
	}
	t.ring = ring
	return true
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

// keptEmpty records raw as left as it is for action a when keepsEmpty, and
// reports whether it is.
func (t *Transform) keptEmpty(class *fieldmap.Class, a Action, via string, raw []byte) bool {
	if !keepsEmpty(class, raw) {
		return false
	}
	t.st.add(class.Name, a, OpKeep, ResultEmpty, via)
	return true
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
