package auth

import (
	"errors"
	"net/http"
	"strings"
)

var (
	errNoHeader    = errors.New("no Authorization header")
	errNotBearer   = errors.New("authorization scheme is not Bearer")
	errEmptyBearer = errors.New("empty bearer token")
)

// BearerToken extracts the token from r's Authorization header (RFC 6750
// section 2.1; the scheme is case-insensitive). A missing header is
// ReasonMissing; another scheme, an empty token or several Authorization
// headers are ReasonMalformed.
func BearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", fail(ReasonMissing, errNoHeader)
	case 1:
	default:
		return "", fail(ReasonMalformed, errors.New("several Authorization headers"))
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fail(ReasonMalformed, errNotBearer)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", fail(ReasonMalformed, errEmptyBearer)
	}
	return token, nil
}
