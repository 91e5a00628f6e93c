package crypto

import "context"

// Source loads key rings: crypto/localkeys reads a key-ring file,
// crypto/awskeys a Secrets Manager secret unwrapped with KMS. prev is the
// ring in service (nil at first), so a source can carry unwrapped keys
// over instead of unwrapping them again. crypto/keycache shares the rings a
// Source loads with every request.
type Source interface {
	Load(ctx context.Context, prev *Keyring) (*Keyring, error)
}

// Changer is optionally implemented by a Source with a cheap way to tell
// whether its ring changed since prev (a file hash, a secret version id).
// crypto/keycache's periodic refresh calls Changed and loads only when it
// reports true.
type Changer interface {
	Changed(ctx context.Context, prev *Keyring) (bool, error)
}
