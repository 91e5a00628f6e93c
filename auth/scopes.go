package auth

import (
	"encoding/json"
	"errors"
	"strings"
)

// scopeClaim is an OAuth scope claim ("scope" or "scp") as issuers really
// send it: RFC 9068 §2.2.3 and RFC 8693 §4.2 define "scope" as one string of
// space-separated scopes (Cognito, Auth0, Keycloak), Microsoft Entra ID sends
// "scp" the same way, and other issuers (Okta's "scp", some "scope") send a
// JSON array of strings. Both forms decode to the list of scopes; array
// elements are split on spaces too, so "a b" means the same in either form.
// null or an absent claim is no scope. Any other JSON type makes the token
// malformed rather than silently scope-less.
type scopeClaim []string

var errScopeType = errors.New("scope claim is neither a string nor an array of strings")

// UnmarshalJSON reads a space-separated string or an array of strings.
func (s *scopeClaim) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = strings.Fields(one)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errScopeType
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, strings.Fields(e)...)
	}
	*s = out
	return nil
}
