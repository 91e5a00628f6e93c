package crypto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
)

// Prefix starts every sealed value. The digit is the format version: a
// reader that sees another prefix must not guess.
const Prefix = "fs1:"

// Mode selects how a value is sealed. The algorithm that implements it is
// carried in the first header byte (see Alg), so a reader needs no
// configuration to open a value.
type Mode uint8

const (
	// ModeRandom seals with XAES-256-GCM (AlgXAESGCM) and a random 192-bit
	// nonce: equal plaintexts give unrelated sealed values, and a key can
	// seal any practical number of values. It is the default.
	ModeRandom Mode = 1
	// ModeDeterministic seals with AES-SIV (RFC 5297): under one key and one
	// AAD, equal plaintexts give equal sealed values. It leaks equality, so
	// use it only for fields the application must look up by equality.
	ModeDeterministic Mode = 2
)

var modeNames = [...]string{ModeRandom: "random", ModeDeterministic: "deterministic"}

// String returns "random" or "deterministic" (the config spelling).
func (m Mode) String() string { return enumName(modeNames[:], m, "mode") }

// Alg is the algorithm id in the first header byte of a sealed value.
// Open accepts every Alg below; Seal writes AlgXAESGCM for ModeRandom and
// AlgAESSIV for ModeDeterministic.
type Alg uint8

const (
	// AlgAESGCM is AES-256-GCM with a random 96-bit nonce, the random mode
	// of earlier releases. Values sealed with it keep opening, but it is no
	// longer written: random 96-bit nonces bound a key to about 2^32 values.
	AlgAESGCM Alg = 1
	// AlgAESSIV is AES-SIV (RFC 5297), the deterministic mode.
	AlgAESSIV Alg = 2
	// AlgXAESGCM is XAES-256-GCM (C2SP XAES-256-GCM) with a random 192-bit
	// nonce: a per-value AES-256-GCM key is derived from the first half of
	// the nonce, so there is no practical bound on values per key.
	AlgXAESGCM Alg = 3
)

var algNames = [...]string{AlgAESGCM: "aes-256-gcm", AlgAESSIV: "aes-siv", AlgXAESGCM: "xaes-256-gcm"}

// String names the algorithm as FORMAT.md does.
func (a Alg) String() string { return enumName(algNames[:], a, "alg") }

// overhead is what a value sealed with a carries after the header (nonce
// and tag); known is false for an algorithm Open does not accept.
func (a Alg) overhead() (n int, known bool) {
	switch a {
	case AlgAESGCM:
		return nonceLen + tagLen, true
	case AlgAESSIV:
		return tagLen, true // the synthetic IV is the tag
	case AlgXAESGCM:
		return xaesNonceLen + tagLen, true
	}
	return 0, false
}

// JSONType is the JSON type of the value that was sealed, carried in the
// header so that Open gives back a string, number, boolean, null, object or
// array as it was.
type JSONType uint8

// JSON types. For TypeString the sealed plaintext is the decoded string
// content; for every other type it is the raw JSON text.
const (
	TypeString JSONType = 1
	TypeNumber JSONType = 2
	TypeBool   JSONType = 3
	TypeNull   JSONType = 4
	TypeObject JSONType = 5
	TypeArray  JSONType = 6
)

var typeNames = [...]string{
	TypeString: "string", TypeNumber: "number", TypeBool: "boolean",
	TypeNull: "null", TypeObject: "object", TypeArray: "array",
}

// String returns the JSON name of the type.
func (t JSONType) String() string { return enumName(typeNames[:], t, "type") }

// enumName is names[v], or "kind(v)" for a value without a name, so that a
// header byte read from an untrusted value prints without a panic.
func enumName[T ~uint8](names []string, v T, kind string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return kind + "(" + strconv.Itoa(int(v)) + ")"
}

func (t JSONType) valid() bool { return t >= TypeString && t <= TypeArray }

// Error categories. Callers map them to HTTP statuses with errors.Is; the
// wrapped text names the operation and the key id, never a value.
var (
	// ErrMalformed: the value has the prefix but is not a well-formed sealed
	// value (bad base64, too short, unknown algorithm or JSON type).
	ErrMalformed = errors.New("malformed sealed value")
	// ErrUnknownKey: the value names a key id the key ring does not hold.
	ErrUnknownKey = errors.New("unknown key id")
	// ErrTampered: authentication failed: the value was altered, sealed for
	// another field class or context, or sealed under another key.
	ErrTampered = errors.New("sealed value failed authentication")
	// ErrKeyDestroyed: the value names a key version that was destroyed or
	// is below the ring's minimum version; it can never open again.
	ErrKeyDestroyed = errors.New("key version destroyed")
	// ErrNoKey: there is no usable key ring (none loaded yet, or empty).
	ErrNoKey = errors.New("no usable key")
)

// Header layout (see FORMAT.md).
const (
	headerLen    = 6  // alg(1) | json type(1) | key id(4, big-endian)
	nonceLen     = 12 // AES-GCM nonce (alg 1)
	xaesNonceLen = 24 // XAES-256-GCM nonce (alg 3)
	tagLen       = 16 // AES-GCM tag, also the AES-SIV synthetic IV length
)

// enc is the one accepted base64 alphabet: URL-safe, no padding, strict
// (non-zero trailing bits rejected) so that every payload has exactly one
// text form. It is never modified.
var enc = base64.RawURLEncoding.Strict()

// IsSealed reports whether v, the content of a JSON string, carries the
// sealed-value prefix. Values without it are legacy plaintext; values with
// it must open or be reported as errors, never passed through as plaintext.
func IsSealed(v []byte) bool { return bytes.HasPrefix(v, []byte(Prefix)) }

// WellFormed reports whether v, the content of a JSON string, is a
// well-formed sealed value: the prefix, canonical base64url with no line
// break, a known algorithm and JSON type, and at least the length its
// algorithm needs. It says nothing about whether v opens (key, class,
// context); it tells a sealed value from text that happens to start with
// the prefix.
func WellFormed(v []byte) bool {
	if !IsSealed(v) {
		return false
	}
	text := v[len(Prefix):]
	if bytes.IndexByte(text, '\r') >= 0 || bytes.IndexByte(text, '\n') >= 0 {
		return false
	}
	raw, err := enc.AppendDecode(nil, text)
	if err != nil || len(raw) < headerLen || !JSONType(raw[1]).valid() {
		return false
	}
	switch Alg(raw[0]) {
	case AlgAESGCM:
		return len(raw) >= headerLen+nonceLen+tagLen
	case AlgXAESGCM:
		return len(raw) >= headerLen+xaesNonceLen+tagLen
	case AlgAESSIV:
		return len(raw) >= headerLen+tagLen
	}
	return false
}

// aadLabel starts every caller AAD so that fieldseal AAD can never collide
// with AAD another system builds under the same key.
const aadLabel = "fieldseal/v1"

// AAD appends the associated data that binds a sealed value to its field
// class and optional context (tenant id, record id) to dst and returns it:
//
//	"fieldseal/v1" 0x00 class 0x00 context
//
// Class names come from config and never contain 0x00, and context comes
// last, so the encoding is unambiguous. An empty context is the same as no
// context. Every caller must build AAD with this function.
func AAD(dst []byte, class, context string) []byte {
	dst = append(dst, aadLabel...)
	dst = append(dst, 0)
	dst = append(dst, class...)
	dst = append(dst, 0)
	return append(dst, context...)
}
