package transform

// Caller decides, per field class, what its holder may do. Implementations
// are read concurrently and must not change once handed to a Transform.
type Caller interface {
	// Action is what this caller gets for values of class when a document
	// is opened.
	Action(class string) Action
	// MayWrite reports whether this caller may send values of class; Seal
	// refuses a document carrying a class its caller may not write.
	MayWrite(class string) bool
}

// SealedWriter is optionally implemented by a Caller that may send values
// already sealed for some classes (a replication or backfill job):
// MayWriteSealed reports whether it may for class. Without it only callers
// whose action for the class is ActionSealed may (or Params.AcceptSealed).
type SealedWriter interface {
	MayWriteSealed(class string) bool
}

// FullAccess is the caller that writes and decrypts every class: the
// transform's default (Params.Caller nil), the CLI's, and the proxy's when
// no authentication is configured.
type FullAccess struct{}

// Action implements Caller: always ActionDecrypt.
func (FullAccess) Action(string) Action { return ActionDecrypt }

// MayWrite implements Caller: always true.
func (FullAccess) MayWrite(string) bool { return true }

// Masker renders a value for callers whose action is ActionMask; *mask.Set
// implements it. plaintext is the opened value: a string's decoded content
// (isString true) or the raw JSON text of any other type. Mask returns the
// text to show, which must start with mask.Prefix (so that it is refused
// when written back) and must not reveal what it was not meant to; the
// transform writes it as a JSON string.
type Masker interface {
	Mask(class string, plaintext []byte, isString bool) string
}
