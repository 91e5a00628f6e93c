package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Defaults for Options fields left zero.
const (
	DefaultLeeway             = 30 * time.Second
	DefaultRefreshInterval    = time.Hour
	DefaultUnknownKIDInterval = time.Minute
	DefaultHTTPTimeout        = 10 * time.Second
	DefaultAlgorithm          = "RS256"
)

// Token uses Cognito puts in "token_use".
const (
	TokenUseAccess = "access"
	TokenUseID     = "id"
)

// allowedAlgorithms are the only algorithms a configuration may name: all
// asymmetric. HMAC is excluded because a verifier holding a public key must
// never accept a MAC made with that public key as the secret; "none" is
// excluded for the obvious reason.
var allowedAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// AllowedAlgorithms returns the algorithm names Options.Algorithms may use.
func AllowedAlgorithms() []string { return slices.Clone(allowedAlgorithms) }

// Options configure a Verifier. Issuer and at least one of Audiences or
// ClientIDs are required. The yaml tags are the keys of the `auth:` config
// section, which the config package decodes into Options; the fields tagged
// "-" are the process's to fill.
type Options struct {
	// Issuer is the exact "iss" value expected, e.g.
	// https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf.
	Issuer string `yaml:"issuer"`
	// JWKSURL is where the issuer's keys are published; default
	// Issuer + "/.well-known/jwks.json" (Cognito's and most OIDC issuers' location).
	JWKSURL string `yaml:"jwks_url"`
	// Audiences are accepted "aud" values (OIDC ID tokens, most access tokens).
	Audiences []string `yaml:"audiences"`
	// ClientIDs are accepted "client_id" values (Cognito access tokens). They
	// are also accepted as "aud", since a Cognito ID token's aud is its app
	// client id.
	ClientIDs []string `yaml:"client_ids"`
	// TokenUse, when set ("access" or "id"), must equal the "token_use" claim.
	TokenUse string `yaml:"token_use"`
	// Algorithms accepted in the token header; default RS256. Only
	// AllowedAlgorithms; HS*, "none" or anything else is a configuration error.
	Algorithms []string `yaml:"algorithms"`
	// Leeway tolerated on exp and nbf for clock skew; default 30s, at most 5m.
	Leeway time.Duration `yaml:"leeway"`
	// RefreshInterval is how often the JWKS is refetched; default 1h.
	RefreshInterval time.Duration `yaml:"jwks_refresh_interval"`
	// UnknownKIDInterval is the minimum time between refetches caused by a
	// token whose kid is not in the cached JWKS; default 1m. Tokens arriving
	// while the limiter is empty fail fast with ReasonUnknownKID.
	UnknownKIDInterval time.Duration `yaml:"jwks_unknown_kid_interval"`
	// HTTPTimeout bounds every JWKS request; default 10s.
	HTTPTimeout time.Duration `yaml:"jwks_timeout"`
	// Transport carries JWKS requests; default http.DefaultTransport.
	Transport http.RoundTripper `yaml:"-"`
	// Registerer receives the fieldseal_auth_* metrics; nil registers none.
	Registerer prometheus.Registerer `yaml:"-"`
	// Logger receives JWKS refresh failures.
	Logger zerolog.Logger `yaml:"-"`
	// Now is the clock for exp/nbf; default time.Now.
	Now func() time.Time `yaml:"-"`
	// CacheSize bounds how many verified tokens are remembered (see Verify);
	// 0 means DefaultCacheSize, a negative value turns the cache off.
	CacheSize int `yaml:"-"`
}

// Identity is what a verified token says about its caller. It holds no raw
// token. Its slices may be shared with the verifier's cache: read them, never
// write to their elements. Subject and Username come from the token and must never be used as
// metric labels (unbounded); policies map an Identity to a configured caller id.
type Identity struct {
	Issuer   string
	Subject  string
	ClientID string   // "client_id", or for an ID token the "aud" that matched a configured client id
	Username string   // "username" (Cognito access) or "cognito:username" (Cognito ID)
	TokenUse string   // "access", "id" or ""
	Scopes   []string // "scope" then "scp", each a space-separated string or an array of strings
	Groups   []string // "cognito:groups"
	Expires  time.Time
}

// Verifier checks bearer tokens. It is safe for concurrent use. Close stops
// its background JWKS refresh.
type Verifier struct {
	issuer    string
	audiences map[string]bool
	clientIDs map[string]bool
	tokenUse  string
	algs      []string
	parser    *jwt.Parser
	keys      keyReader
	cache     *verifiedCache
	now       func() time.Time
	leeway    time.Duration
	m         *metrics
	cancel    context.CancelFunc
}

// New validates opts, fetches the JWKS once (a failure is logged, not fatal:
// tokens then fail with ReasonUnknownKID until a refetch succeeds) and starts
// the periodic refresh, which runs until ctx is done or Close is called.
func New(ctx context.Context, opts Options) (*Verifier, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m := newMetrics(opts.Registerer)
	client := &http.Client{
		Timeout:   opts.HTTPTimeout,
		Transport: countingTransport{next: opts.Transport, m: m},
		// A JWKS endpoint that redirects elsewhere is not the issuer's.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx, cancel := context.WithCancel(ctx)
	log := opts.Logger
	cache := newVerifiedCache(opts.CacheSize)
	keys, err := newKeySource(ctx, opts, client,
		func(err error) {
			log.Warn().Str("event", "jwks_refresh_failed").Str("url", opts.JWKSURL).Err(err).Msg("JWKS refresh failed; keeping cached keys")
		},
		cache.dropKIDs)
	if err != nil {
		cancel()
		return nil, err
	}
	v := &Verifier{
		issuer:    opts.Issuer,
		audiences: set(opts.Audiences, opts.ClientIDs),
		clientIDs: set(opts.ClientIDs),
		tokenUse:  opts.TokenUse,
		algs:      opts.Algorithms,
		keys:      keys,
		cache:     cache,
		now:       opts.Now,
		leeway:    opts.Leeway,
		m:         m,
		cancel:    cancel,
		parser: jwt.NewParser(
			jwt.WithValidMethods(opts.Algorithms),
			jwt.WithIssuer(opts.Issuer),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(opts.Leeway),
			jwt.WithTimeFunc(opts.Now),
		),
	}
	return v, nil
}

// Close stops the background JWKS refresh. Verify keeps working with the
// cached keys but no longer refetches periodically.
func (v *Verifier) Close() { v.cancel() }

// VerifyRequest extracts the bearer token from r and verifies it with r's context.
func (v *Verifier) VerifyRequest(r *http.Request) (*Identity, error) {
	token, err := BearerToken(r)
	if err != nil {
		v.RecordFailure(err)
		return nil, err
	}
	return v.Verify(r.Context(), token)
}

// RecordFailure counts a refusal that happened before a token reached Verify
// (BearerToken's missing or malformed header) in fieldseal_auth_failures_total.
func (v *Verifier) RecordFailure(err error) {
	if reason := ReasonOf(err); reason != "" {
		v.m.failures.WithLabelValues(string(reason)).Inc()
	}
}

// Verify checks token and returns its Identity, or an *Error. ctx bounds any
// JWKS refetch the token triggers.
//
// A token seen for the first time pays full verification (signature, then
// claims). One that passed is remembered, keyed by its exact string, in a
// bounded LRU (Options.CacheSize): presented again it is accepted without a
// signature check as long as its exp and nbf still hold on the verifier's
// clock with the leeway, and only while the key that verified it is in the
// JWKS under the same kid (a refresh that removes or re-keys a kid drops its
// tokens). Refused tokens are never remembered. The signature check is what
// the cache saves: an RS256 verification (crypto/rsa rebuilds the modulus'
// Montgomery form from the public key on every call) is most of an
// authenticated request's cost.
func (v *Verifier) Verify(ctx context.Context, token string) (*Identity, error) {
	id, err := v.verify(ctx, token)
	if err != nil {
		v.m.failures.WithLabelValues(string(err.Reason)).Inc()
		return nil, err
	}
	v.m.verified.Inc()
	return id, nil
}

// claims are the registered claims plus the Cognito and OAuth ones we read.
type claims struct {
	jwt.RegisteredClaims
	ClientID        string     `json:"client_id"`
	TokenUse        string     `json:"token_use"`
	Scope           scopeClaim `json:"scope"`
	Scp             scopeClaim `json:"scp"`
	Username        string     `json:"username"`
	CognitoUsername string     `json:"cognito:username"`
	Groups          []string   `json:"cognito:groups"`
}

func (v *Verifier) verify(ctx context.Context, token string) (*Identity, *Error) {
	if token == "" {
		return nil, fail(ReasonMissing, errEmptyBearer)
	}
	if e, ok := v.cache.get(token); ok {
		return v.reuse(token, e)
	}
	gen := v.cache.generation()
	var c claims
	var kid string
	tok, err := v.parser.ParseWithClaims(token, &c, v.keyFor(ctx, &kid))
	if err != nil {
		return nil, v.classify(tok, err)
	}
	clientID, ok := v.audience(&c)
	if !ok {
		return nil, fail(ReasonWrongAudience, errors.New("neither aud nor client_id is configured"))
	}
	if v.tokenUse != "" && c.TokenUse != v.tokenUse {
		return nil, fail(ReasonWrongTokenUse, fmt.Errorf("token_use is not %q", v.tokenUse))
	}
	e := &verified{
		id: Identity{
			Issuer:   c.Issuer,
			Subject:  c.Subject,
			ClientID: clientID,
			Username: c.Username,
			TokenUse: c.TokenUse,
			Scopes:   append(slices.Clip(c.Scope), c.Scp...),
			Groups:   c.Groups,
		},
		kid: kid,
	}
	if e.id.Username == "" {
		e.id.Username = c.CognitoUsername
	}
	if c.ExpiresAt != nil { // always set: WithExpirationRequired
		e.id.Expires = c.ExpiresAt.Time
		e.exp = c.ExpiresAt.Time
	}
	if c.NotBefore != nil {
		e.nbf = c.NotBefore.Time
	}
	if !e.exp.IsZero() {
		v.cache.add(token, e, gen)
	}
	id := e.id
	return &id, nil
}

var (
	errCachedExpired = errors.New("token has expired")
	errCachedNotYet  = errors.New("token is not valid yet")
)

// reuse answers for a token that passed full verification before: only the
// time claims can have changed their verdict since, so they are checked again
// the way the parser checks them (exp exclusive, nbf inclusive, both with the
// leeway, on the verifier's clock). An expired token is forgotten.
func (v *Verifier) reuse(token string, e *verified) (*Identity, *Error) {
	now := v.now()
	if !now.Before(e.exp.Add(v.leeway)) {
		v.cache.remove(token)
		return nil, fail(ReasonExpired, errCachedExpired)
	}
	if !e.nbf.IsZero() && now.Before(e.nbf.Add(-v.leeway)) {
		return nil, fail(ReasonNotYetValid, errCachedNotYet)
	}
	id := e.id
	return &id, nil
}

var (
	errNoKID          = errors.New("token header has no kid")
	errUnknownKID     = errors.New("kid not in the JWKS")
	errKeyAlgMismatch = errors.New("JWK alg differs from the token's alg")
	errKeyUse         = errors.New("JWK is not a signing key")
)

// keyFor selects the verification key by kid from the JWKS cache and records
// the kid in *kid. It stands in for keyfunc.KeyfuncCtx so that every failure
// to find a key (absent, or the unknown-kid refetch refused by the rate
// limiter) is one typed error, and so that a token without kid is refused
// rather than tried against every key. The alg is already one of ours
// (jwt.WithValidMethods runs first).
func (v *Verifier) keyFor(ctx context.Context, kid *string) jwt.Keyfunc {
	return func(tok *jwt.Token) (any, error) {
		k, _ := tok.Header["kid"].(string)
		if k == "" {
			return nil, errNoKID
		}
		jwk, err := v.keys.KeyRead(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUnknownKID, err)
		}
		meta := jwk.Marshal()
		if a := meta.ALG.String(); a != "" && a != tok.Method.Alg() {
			return nil, errKeyAlgMismatch
		}
		if meta.USE != "" && meta.USE != jwkset.UseSig {
			return nil, errKeyUse
		}
		*kid = k
		// A JWKS should not carry private keys; never verify with one anyway.
		return publicKey(jwk.Key()), nil
	}
}

// audience accepts the token when its client_id is a configured client id or
// one of its aud values is a configured audience or client id.
func (v *Verifier) audience(c *claims) (clientID string, ok bool) {
	if c.ClientID != "" && v.clientIDs[c.ClientID] {
		return c.ClientID, true
	}
	for _, a := range c.Audience {
		if v.audiences[a] {
			if c.ClientID == "" && v.clientIDs[a] {
				return a, true
			}
			return c.ClientID, true
		}
	}
	return "", false
}

// classify maps a jwt/keyfunc error to a Reason. The algorithm is checked
// first: whatever else is wrong with a token whose alg we never accept, that
// is the reason worth reporting.
func (v *Verifier) classify(tok *jwt.Token, err error) *Error {
	if tok != nil && tok.Header != nil {
		if alg, _ := tok.Header["alg"].(string); !slices.Contains(v.algs, alg) {
			return fail(ReasonAlgNotAllowed, err)
		}
	}
	switch {
	case errors.Is(err, errUnknownKID):
		return fail(ReasonUnknownKID, err)
	case errors.Is(err, errKeyAlgMismatch):
		return fail(ReasonAlgNotAllowed, err)
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, errNoKID):
		return fail(ReasonMalformed, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return fail(ReasonExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return fail(ReasonNotYetValid, err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fail(ReasonWrongIssuer, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return fail(ReasonBadSignature, err)
	default:
		return fail(ReasonMalformed, err)
	}
}

// Check validates the options without fetching anything (for `config
// check` and start-up validation); every problem is reported, each matching
// ErrConfig.
func (o Options) Check() error {
	_, err := o.withDefaults()
	return err
}

func (o Options) withDefaults() (Options, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if o.Issuer == "" {
		bad("issuer is required")
	}
	if o.JWKSURL == "" && o.Issuer != "" {
		o.JWKSURL = strings.TrimSuffix(o.Issuer, "/") + "/.well-known/jwks.json"
	}
	if o.JWKSURL != "" {
		if u, err := url.Parse(o.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("jwks_url %q is not an http(s) URL", o.JWKSURL)
		}
	}
	if len(o.Audiences) == 0 && len(o.ClientIDs) == 0 {
		bad("at least one of audiences or client_ids is required")
	}
	switch o.TokenUse {
	case "", TokenUseAccess, TokenUseID:
	default:
		bad("token_use %q is not %q or %q", o.TokenUse, TokenUseAccess, TokenUseID)
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = []string{DefaultAlgorithm}
	}
	o.Algorithms = slices.Clone(o.Algorithms)
	for _, a := range o.Algorithms {
		if !slices.Contains(allowedAlgorithms, a) {
			bad("algorithm %q is not allowed (asymmetric only: %s)", a, strings.Join(allowedAlgorithms, ", "))
		}
	}
	switch {
	case o.Leeway == 0:
		o.Leeway = DefaultLeeway
	case o.Leeway < 0 || o.Leeway > 5*time.Minute:
		bad("leeway %s is outside 0..5m", o.Leeway)
	}
	o.RefreshInterval = orDefault(o.RefreshInterval, DefaultRefreshInterval)
	o.UnknownKIDInterval = orDefault(o.UnknownKIDInterval, DefaultUnknownKIDInterval)
	o.HTTPTimeout = orDefault(o.HTTPTimeout, DefaultHTTPTimeout)
	if o.RefreshInterval < 0 || o.UnknownKIDInterval < 0 || o.HTTPTimeout < 0 {
		bad("intervals and timeouts must be positive")
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, errors.Join(errs...)
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func set(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			m[s] = true
		}
	}
	return m
}

// countingTransport counts JWKS fetches by result for
// fieldseal_auth_jwks_fetches_total.
type countingTransport struct {
	next http.RoundTripper
	m    *metrics
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.m.jwksFetches.WithLabelValues("error").Inc()
	} else {
		t.m.jwksFetches.WithLabelValues("ok").Inc()
	}
	return resp, err
}
