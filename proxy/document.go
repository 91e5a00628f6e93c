package proxy

import (
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
)

// SealDocument seals every value that side names in doc, exactly as the
// proxy seals a request body on that route (already sealed values are kept),
// and appends the result to dst. context is the route's AAD context value
// ("" when the route binds none). It is the offline form of the proxy, for
// backfills and debugging (`fieldseal encrypt`).
func SealDocument(dst []byte, ring *crypto.Keyring, side *fieldmap.Side, context string, doc []byte) ([]byte, error) {
	var st stats
	t := newTransform(ring, side, fullAccess{}, context, true, &st)
	return t.sealDoc(dst, doc)
}

// OpenDocument opens every sealed value that side names in doc, as the proxy
// opens a response body for a caller allowed to decrypt every class; legacy
// plaintext passes through, and a value that does not open is an error.
func OpenDocument(dst []byte, ring *crypto.Keyring, side *fieldmap.Side, context string, doc []byte) ([]byte, error) {
	var st stats
	t := newTransform(ring, side, fullAccess{}, context, false, &st)
	return t.openDoc(dst, doc)
}
