package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/rewrite"
	"github.com/fieldseal/fieldseal/transform"
)

// A request an application may take under several routes (an override
// header naming one method and the query another, a POST whose body says
// _method=PUT, a path whose spellings reach two routes) is sealed under
// every one of them, because fieldseal cannot know which one the
// application takes: first under the route that protects it (rs.route),
// then under each other one (rs.also), keeping what is already sealed.
// Its response is opened under rs.route and then under each other one, so
// a value one route names for a class the caller may not read is never
// handed over. A value must open where it is read: a value two routes seal
// differently (another class or context, whole or inside) is refused
// (ErrAmbiguousRoute) rather than stored where one of them cannot open it.

// lookup sets rs's routes for r from m (fieldmap.Map.LookupAll).
func (rs *reqState) lookup(m *fieldmap.Map, r *http.Request) {
	rs.fmap, rs.hdr = m, newHeaderLookup(r.Header)
	rs.found = fieldmap.Found{Routes: rs.routeBuf[:0], ByBody: rs.bodyBuf[:0]}
	m.LookupAll(&rs.found, r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.RawQuery, rs.hdr.values)
	rs.matched = len(rs.found.Routes) > 0
	if !rs.matched {
		rs.route = m.Unmatched()
		return
	}
	rs.route, rs.also = rs.found.Routes[0], rs.found.Routes[1:]
}

// checkRewriteQuery refuses a request whose X-Original-URL or X-Rewrite-URL
// (fieldmap.RewriteHeaders, read as paths of the request) carries a query
// other than the request's own, when one of its routes seals query
// parameters: an application that routes by the header reads that query.
// One that carries the request's own query gets it sealed (rewriteQuery).
func (rs *reqState) checkRewriteQuery(r *http.Request) error {
	if !rs.sealsQuery() {
		return nil
	}
	for _, h := range fieldmap.RewriteHeaders {
		for k := range cgiFields(r.Header, h) {
			for _, v := range r.Header[k] {
				_, q, ok := strings.Cut(v, "?")
				q, _, _ = strings.Cut(q, "#")
				if ok && q != r.URL.RawQuery {
					return fmt.Errorf("header %s carries a query other than the request's, which fieldseal does not seal: %w", k, ErrInvalidQuery)
				}
			}
		}
	}
	return nil
}

// rewriteQuery gives the X-Original-URL and X-Rewrite-URL values that carry
// the request's query as sent (rs.query; checkRewriteQuery refused any
// other) the query as sealed.
func (rs *reqState) rewriteQuery(r *http.Request) {
	if !rs.sealsQuery() || r.URL.RawQuery == rs.query {
		return
	}
	for _, h := range fieldmap.RewriteHeaders {
		for k := range cgiFields(r.Header, h) {
			rewriteQueryIn(r.Header[k], r.URL.RawQuery)
		}
	}
}

// rewriteQueryIn gives each value of vs (URLs or paths) that carries a
// query the query q instead, keeping its fragment.
func rewriteQueryIn(vs []string, q string) {
	for i, v := range vs {
		if p, rest, ok := strings.Cut(v, "?"); ok {
			_, frag, hasFrag := strings.Cut(rest, "#")
			vs[i] = p + "?" + q
			if hasFrag {
				vs[i] += "#" + frag
			}
		}
	}
}

// sealsQuery reports whether a route of the request seals query
// parameters, or may once its body is read: a route a POST body's _method
// may add (found.ByBody; addBodyRoutes) counts, since checkRewriteQuery
// runs before the body is read.
func (rs *reqState) sealsQuery() bool {
	return rs.matched && (sealsQuery(rs.route) || slices.ContainsFunc(rs.also, sealsQuery) ||
		slices.ContainsFunc(rs.found.ByBody, sealsQuery))
}

// sealsQuery reports whether route seals query parameters or filters.
func sealsQuery(route *fieldmap.Route) bool {
	return route.Query != nil || len(route.QueryFilters) > 0
}

// routeContext returns the AAD context value route binds from r's header or
// path ("" when it binds none, or binds a body member: bindMember), or
// ErrMissingContext.
func (rs *reqState) routeContext(r *http.Request, route *fieldmap.Route) (string, error) {
	switch {
	case route.ContextHeader != "":
		// Every line and CGI spelling of the header must agree: an
		// application may take any of them (PHP keeps the last).
		vs := rs.hdr.values(route.ContextHeader)
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		if v == "" {
			return "", fmt.Errorf("route %q needs header %s: %w", route.Name, route.ContextHeader, ErrMissingContext)
		}
		if slices.ContainsFunc(vs, func(o string) bool { return o != v }) {
			return "", fmt.Errorf("route %q: header %s has %d different values (lines or spellings); send one: %w", route.Name, route.ContextHeader, len(vs), ErrMissingContext)
		}
		return v, nil
	case route.ContextParam != "":
		v, ok := route.PathParam(route.ContextParam, r.URL.Path, r.URL.EscapedPath())
		if !ok || v == "" {
			return "", fmt.Errorf("route %q needs path parameter {%s}: %w", route.Name, route.ContextParam, ErrMissingContext)
		}
		// An application that routes by X-Original-URL reads it there.
		for _, o := range route.RewritePathParams(nil, route.ContextParam, rs.hdr.values) {
			if o != v {
				return "", fmt.Errorf("route %q: path parameter {%s} differs between the path and its rewrite header: %w", route.Name, route.ContextParam, ErrMissingContext)
			}
		}
		return v, nil
	}
	return "", nil
}

// pathRoute returns the first of the request's routes (rs.route, then
// rs.also) that seals request paths, or nil: its body must then be JSON.
func (rs *reqState) pathRoute() *fieldmap.Route {
	if !rs.matched {
		return nil
	}
	if rs.route.Request.HasPaths() {
		return rs.route
	}
	for _, r := range rs.also {
		if r.Request.HasPaths() {
			return r
		}
	}
	return nil
}

// bodyRouteSealing returns the first route only a POST body's _method
// reaches (fieldmap.Found.ByBody) that seals request paths or query
// parameters, or nil.
func (rs *reqState) bodyRouteSealing() *fieldmap.Route {
	for _, r := range rs.found.ByBody {
		if r.Request.HasPaths() || sealsQuery(r) {
			return r
		}
	}
	return nil
}

// addBodyRoutes adds to rs.also the routes each _method value methods
// yields reaches (fieldmap.Map.LookupMethod: at the request's path and at
// the paths of its rewrite headers), each once. A route added must find
// its context in the request's header or path.
func (rs *reqState) addBodyRoutes(r *http.Request, methods func(yield func(string))) error {
	var err error
	var seenBuf [8]string
	seen := seenBuf[:0] // each of the map's methods is looked up once, however often the body names it
	methods(func(v string) {
		known, ok := rs.fmap.Method(v)
		if !ok || slices.Contains(seen, known) {
			return
		}
		seen = append(seen, known)
		var buf [2]*fieldmap.Route
		for _, route := range rs.fmap.LookupMethod(buf[:0], known, r.URL.Path, r.URL.EscapedPath(), rs.hdr.values) {
			if route == rs.route || slices.Contains(rs.also, route) || err != nil {
				continue
			}
			if _, err = rs.routeContext(r, route); err == nil {
				rs.also = append(rs.also, route)
			}
		}
	})
	return err
}

// jsonMethods yields the value of every top-level member of doc (valid
// JSON) whose name reads as "_method" (compared case-insensitively, after
// JSON unescaping) and that is a string, as Laravel reads input('_method'),
// or every string of it when it is an array (Express's method-override
// takes the first element of one).
func jsonMethods(doc []byte, yield func(string)) {
	const name = "_method"
	if !mayNameMethod(doc) {
		return
	}
	gjson.ParseBytes(doc).ForEach(func(k, v gjson.Result) bool {
		if len(k.Str) != len(name) || !strings.EqualFold(k.Str, name) {
			return true
		}
		if v.Type == gjson.String {
			yield(v.Str)
		}
		if v.IsArray() {
			v.ForEach(func(_, e gjson.Result) bool {
				if e.Type == gjson.String {
					yield(e.Str)
				}
				return true
			})
		}
		return true
	})
}

// mayNameMethod reports whether doc may hold a member name that reads as
// "_method": it has a JSON escape (any letter may be one), or a '_'
// followed by "method" in any letter case. It lets the hot path skip
// jsonMethods' parse of bodies that cannot name one.
func mayNameMethod(doc []byte) bool {
	if bytes.Contains(doc, []byte(`\u`)) {
		return true
	}
	for i := bytes.IndexByte(doc, '_'); i >= 0; {
		if rest := doc[i+1:]; len(rest) >= 6 && bytes.EqualFold(rest[:6], []byte("method")) {
			return true
		}
		j := bytes.IndexByte(doc[i+1:], '_')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// sealAlso seals doc, already sealed under the request's route, under each
// other route of the request that seals request paths or binds another
// context (alsoSeals), in that route's context: as a JSON document, or with
// form as the urlencoded form it is. Values already sealed where that route
// names none are kept unopened (the first pass checked them:
// KeepSealedElsewhere); those it names, class members included, must open
// for it (else ErrAmbiguousRoute). It returns doc itself when there is no
// such route.
func (p *Proxy) sealAlso(r *http.Request, rs *reqState, ring *crypto.Keyring, doc []byte, form bool) ([]byte, error) {
	for _, also := range rs.also {
		if !rs.alsoSeals(r, also) {
			continue
		}
		ctx, err := rs.routeContext(r, also)
		if err != nil {
			return nil, err
		}
		var st transform.Stats
		at := transform.New(transform.Params{
			Ring: ring, Side: also.Request, Caller: rs.caller, Context: ctx,
			Masker: p.masker, Refresh: rs.sharedRefresh(p.refresher), Stats: &st,
			AcceptSealed: true, KeepSealedElsewhere: true,
		})
		if m := also.ContextMember; m != "" && !form {
			if err := bindMember(at, doc, m); err != nil {
				return nil, fmt.Errorf("route %q: %w", also.Name, err)
			}
		}
		if form {
			doc, err = at.SealForm(nil, doc)
		} else {
			doc, err = at.Seal(nil, doc)
		}
		rs.st.MergeSecondPass(&st)
		if err != nil {
			return nil, alsoError(rs.route, also, err)
		}
	}
	return doc, nil
}

// alsoSeals reports whether a request sealed under its route must be
// sealed under also too: also seals request paths, or binds another context
// (another member, or another value of a header or path parameter), in
// which the class members the first pass sealed would not open.
func (rs *reqState) alsoSeals(r *http.Request, also *fieldmap.Route) bool {
	if also.Request.HasPaths() || also.ContextMember != rs.route.ContextMember {
		return true
	}
	ctx, err := rs.routeContext(r, also)
	return err != nil || ctx != rs.ctx
}

// sharedRefresh returns the request's one on-demand key refresh as the
// request's or response's transform set it up (keyRefresh), for the passes
// under its other routes; nil when keys cannot be refreshed.
func (rs *reqState) sharedRefresh(keys transform.KeyRefresher) *transform.Refresh {
	if keys == nil {
		return nil
	}
	return &rs.refresh
}

// alsoError is the error of sealing a request under also after route: a
// value the two seal differently (another class or context, whole or
// inside) is ErrAmbiguousRoute, a field's own error keeps its category,
// anything else is ErrAmbiguousFields (overlapping matches).
func alsoError(route, also *fieldmap.Route, err error) error {
	var fe *transform.FieldError
	switch {
	case errors.Is(err, transform.ErrInvalidSealedValue), errors.Is(err, transform.ErrSealedWrite), errors.Is(err, rewrite.ErrShapeMismatch):
		return fmt.Errorf("the request may be taken as route %q or %q, which seal a value differently; send it so that one route takes it: %w: %w", route.Name, also.Name, ErrAmbiguousRoute, err)
	case errors.As(err, &fe):
		return fmt.Errorf("seal under route %q too, which the request may take: %w", also.Name, err)
	default:
		return fmt.Errorf("seal under route %q too, which the request may take: %w: %w", also.Name, ErrAmbiguousFields, err)
	}
}

// sealQueryAlso seals the query under each route of rs.also not yet done
// (rs.queried), in its context; a value already sealed must open for the
// parameter that route names (else ErrAmbiguousRoute, as in sealAlso). What the client sent is first checked under
// that route with the caller's own rights (the query as it came, rs.query,
// sealed and thrown away), so that a sealed value copied from a record is
// refused there as on that route alone.
func (p *Proxy) sealQueryAlso(r *http.Request, rs *reqState, ring *crypto.Keyring) error {
	for ; rs.queried < len(rs.also); rs.queried++ {
		also := rs.also[rs.queried]
		if !sealsQuery(also) {
			continue
		}
		ctx, err := rs.routeContext(r, also)
		if err != nil {
			return err
		}
		check := *r
		check.URL = &url.URL{RawQuery: rs.query}
		if err := p.sealQuery(&check, also, nil, ring, rs.caller, ctx, false); err != nil {
			return fmt.Errorf("query under route %q too, which the request may take: %w", also.Name, err)
		}
		if err := p.sealQuery(r, also, &rs.st, ring, rs.caller, ctx, true); err != nil {
			return alsoError(rs.route, also, err)
		}
	}
	return nil
}

// openAlso sets up rs.respAlso: a response transform for each route of
// rs.also with response fields, in its context, leaving a value that does
// not open for it sealed (it was sealed for another route).
//
// The routes of rs.unread only may be the application's: one whose context
// the request lacks opens under no context, so its values stay sealed and
// its legacy plaintext is still masked or sealed for a caller who may not
// read it.
func (p *Proxy) openAlso(r *http.Request, rs *reqState, ring *crypto.Keyring) error {
	for i, also := range slices.Concat(rs.also, rs.unread) {
		if !also.Response.HasPaths() || also == rs.route {
			continue
		}
		ctx, err := rs.routeContext(r, also)
		if err != nil && i < len(rs.also) {
			return err
		}
		o := &alsoOpener{member: also.ContextMember, stats: &rs.st}
		o.t = transform.New(transform.Params{
			Ring: ring, Side: also.Response, Caller: rs.caller, Context: ctx,
			Masker: p.masker, Refresh: rs.sharedRefresh(p.refresher), Stats: &o.st,
			LeaveSealedOnOpenError: true,
		})
		rs.respAlso = append(rs.respAlso, o)
	}
	return nil
}

// opener opens a document's values: a response transform, or several in
// turn (openChain). Changed reports whether some value it wrote so far
// differs from its input (transform.Transform.Changed).
type opener interface {
	Open(dst, doc []byte) ([]byte, error)
	Changed() bool
}

// alsoOpener is the response transform of another route of the request,
// with the body member that route binds its context to, if any. What it
// does is counted in stats (the request's) as a second pass.
type alsoOpener struct {
	member string
	t      *transform.Transform
	st     transform.Stats
	stats  *transform.Stats
}

func (a *alsoOpener) Open(dst, doc []byte) ([]byte, error) {
	if a.member != "" {
		_ = bindMember(a.t, doc, a.member) // no member: nothing opens, never a guess
	}
	a.st = transform.Stats{Fields: a.st.Fields[:0], KeyIDs: a.st.KeyIDs[:0]}
	out, err := a.t.Open(dst, doc)
	a.stats.MergeSecondPass(&a.st)
	return out, err
}

func (a *alsoOpener) Changed() bool { return a.t.Changed() }

// openChain opens a document under each opener in turn.
type openChain []opener

// Open appends doc opened by every opener of c to dst.
func (c openChain) Open(dst, doc []byte) ([]byte, error) {
	for i, o := range c {
		if i == len(c)-1 {
			return o.Open(dst, doc)
		}
		var err error
		if doc, err = o.Open(nil, doc); err != nil {
			return nil, err
		}
	}
	return append(dst, doc...), nil
}

// Changed reports whether some opener of c changed a value.
func (c openChain) Changed() bool {
	return slices.ContainsFunc(c, opener.Changed)
}
