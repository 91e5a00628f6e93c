package proxy

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/transform"
)

// sealQuery seals the route's protected query parameters (Route.Query) in
// r.URL.RawQuery before the request is forwarded, so that an equality
// lookup (GET /customers?email=..) reaches the application as the sealed
// value it stored, and the plaintext reaches neither it nor its access
// logs. Parameters are read as form fields are (email[], filter[email]
// stand for email; '&' and ';' separate them), every other byte of the
// query is kept. A caller may look up a class unless its action for it is
// deny.
func (p *Proxy) sealQuery(r *http.Request, rs *reqState, ring *crypto.Keyring, caller Caller, aadContext string) error {
	if rs.route.Query == nil || r.URL.RawQuery == "" {
		return nil
	}
	t := transform.New(transform.Params{
		Ring: ring, Side: rs.route.Query, Caller: lookupCaller{caller}, Context: aadContext,
		Masker: p.masker, Stats: &rs.st,
	})
	out, err := t.SealForm(nil, []byte(r.URL.RawQuery))
	if err != nil {
		var fe *transform.FieldError
		if errors.As(err, &fe) {
			return err
		}
		return fmt.Errorf("seal query parameters: %w", err)
	}
	r.URL.RawQuery = string(out)
	return nil
}

// lookupCaller is a caller looking values up: sealing a query parameter
// writes nothing, so it needs only an action other than deny.
type lookupCaller struct{ Caller }

func (c lookupCaller) MayWrite(class string) bool { return c.Action(class) != transform.ActionDeny }
