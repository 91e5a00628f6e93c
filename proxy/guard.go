package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/tidwall/gjson"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/sync/semaphore"

	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/rewrite"
	"github.com/fieldseal/fieldseal/transform"
)

// This file holds the guard's request rules (DESIGN.md section 8): every
// request body is read the way the application behind may read it, and
// what fieldseal cannot read that way is refused rather than forwarded.

// bodyKind is how a request body is inspected.
type bodyKind uint8

const (
	bodyNone      bodyKind = iota // no body
	bodyJSON                      // declared JSON (application/json, +json)
	bodyForm                      // application/x-www-form-urlencoded
	bodyMultipart                 // multipart/* (form-data, mixed, related, ...)
	bodyOther                     // anything else: sniffed for JSON
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// asciiCompatible reports whether a charset encodes ASCII as ASCII, so that
// ASCII member names read the same in it as in UTF-8.
func asciiCompatible(cs string) bool {
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1", "iso-8859-15", "windows-1252", "cp1252":
		return true
	}
	return false
}

// requestBody tells how r's body is inspected. A JSON body that declares a
// charset other than UTF-8 is refused: RFC 8259 section 8.1 requires UTF-8
// between systems, yet Express and others decode whatever utf-* charset is
// declared, and would then find members fieldseal never saw. A POST body
// with no Content-Type is a form: Rack parses it as one (form_data?).
func requestBody(r *http.Request) (bodyKind, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return bodyNone, nil
	}
	cts := r.Header[hdrContentType]
	if len(cts) > 1 {
		// Servers disagree on which line counts (gunicorn keeps the last),
		// also when one of them is empty.
		return 0, fmt.Errorf("request has %d Content-Type fields: %w", len(cts), ErrUnsupportedMediaType)
	}
	if len(cts) == 0 || cts[0] == "" {
		if strings.EqualFold(r.Method, http.MethodPost) {
			return bodyForm, nil
		}
		return bodyOther, nil
	}
	ct := cts[0]
	if rewrite.HasExtendedParam(ct) {
		// boundary*=UTF-8''Y; boundary="X" splits parts on Y to Go and on
		// X to Tomcat (see rewrite.HasExtendedParam).
		return 0, fmt.Errorf("request content type %.60q has an RFC 2231 parameter: %w", ct, ErrUnsupportedMediaType)
	}
	mt, params, err := parseMediaType(ct)
	if err != nil {
		// Another parser may read it (Node's content-type takes the last of
		// two charset parameters): refuse what cannot be read one way.
		return 0, fmt.Errorf("request content type %.60q does not parse: %w", ct, ErrUnsupportedMediaType)
	}
	switch {
	case isJSON(mt):
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return 0, fmt.Errorf("request body is JSON in charset %q; send UTF-8 (RFC 8259): %w", cs, ErrUnsupportedMediaType)
		}
		return bodyJSON, nil
	case mt == "application/x-www-form-urlencoded" || strings.HasPrefix(mt, "multipart/"):
		// Any multipart type: Commons FileUpload and Spring read form-data
		// parts out of multipart/mixed or related as fields too.
		// Servlet containers decode a form in its declared charset: a
		// member name in UTF-16 is one fieldseal would not see.
		if cs, ok := params["charset"]; ok && !asciiCompatible(cs) {
			return 0, fmt.Errorf("form body in charset %q; send UTF-8: %w", cs, ErrUnsupportedMediaType)
		}
		if mt == "application/x-www-form-urlencoded" {
			return bodyForm, nil
		}
		if params["boundary"] == "" {
			return 0, fmt.Errorf("multipart request body has no boundary: %w", rewrite.ErrInvalidForm)
		}
		return bodyMultipart, nil
	}
	return bodyOther, nil
}

// sniffJSON peeks at the start of a body that was not declared JSON and
// reports whether it starts like a JSON object or array after a UTF-8 byte
// order mark and any amount of white space (sniffHead). A body in UTF-16 or
// UTF-32 (a byte order mark, or NUL bytes around the first brace as RFC
// 4627 detection and Jackson read it) is refused. r.Body keeps every byte.
func sniffJSON(r *http.Request, limit int64, h *held) (bool, error) {
	br := bufio.NewReaderSize(r.Body, sniffSize)
	head, _ := br.Peek(sniffSize)
	if bytes.HasPrefix(head, []byte{0xFE, 0xFF}) || bytes.HasPrefix(head, []byte{0xFF, 0xFE}) ||
		(len(head) >= 2 && (head[0] == 0 || head[1] == 0)) {
		r.Body = readCloser{br, r.Body}
		return false, errors.Join(fmt.Errorf("request body looks like UTF-16 or UTF-32 text: %w", ErrUnsupportedMediaType))
	}
	head, space, err := sniffHead(br, limit, h)
	r.Body = readCloser{replay(space, br), r.Body}
	switch {
	case errors.Is(err, errTooLarge):
		// White space beyond the body limit: read as JSON, the body is
		// refused for its size (413), which is what happens next.
		return true, nil
	case err != nil:
		return false, err
	}
	// A comment starts JSON5 and the lenient parsers that read it.
	return len(head) > 0 && (head[0] == '{' || head[0] == '[' || bytes.HasPrefix(head, []byte("/*")) || bytes.HasPrefix(head, []byte("//"))), nil
}

// sniffSize is how many bytes a sniff looks at once.
const sniffSize = 512

// sniffHead reads br past a UTF-8 byte order mark and any amount of JSON
// white space (RFC 8259 section 2), as a parser that is not told the
// content type reads a body (encoding/json's Decoder, JSON.parse and
// Jackson skip white space without a limit). It returns the bytes that
// follow (up to sniffSize of them, from br's buffer; none when the body is
// only white space or ends early) and the bytes it took from br, which
// the caller replays ahead of br (replay).
//
// White space beyond what br buffers is held in memory, charged to h, so
// a sniff holds no more than the bytes received; past limit bytes of it
// sniffHead stops with errTooLarge. A read error other than io.EOF ends
// the white space like the end of the body does; reading br again meets
// it. ErrBusy is returned when h's budget is spent.
func sniffHead(br *bufio.Reader, limit int64, h *held) (head, space []byte, err error) {
	if bom, _ := br.Peek(len(utf8BOM)); bytes.Equal(bom, utf8BOM) {
		space = append(space, utf8BOM...)
		_, _ = br.Discard(len(utf8BOM))
	}
	for {
		buf, _ := br.Peek(sniffSize)
		n := len(buf) - len(bytes.TrimLeftFunc(buf, sniffSpace))
		if n == 0 {
			// Something else than white space, or the end of the body: it
			// stays in br, where the caller looks at it.
			return buf, space, nil
		}
		// White space (all of buf, or up to something else or a
		// character cut by the end of buf): hold it and look again.
		if int64(len(space)+n) > limit {
			return nil, space, errTooLarge
		}
		if need := len(space) + n; need > cap(space) {
			// Grown here rather than by append, so that what is charged
			// is the capacity held.
			next := max(2*cap(space), need)
			if err := h.hold(int64(next - cap(space))); err != nil {
				return nil, space, fmt.Errorf("hold leading white space: %w", err)
			}
			grown := make([]byte, len(space), next)
			copy(grown, space)
			space = grown
		}
		space = append(space, buf[:n]...)
		_, _ = br.Discard(n)
	}
}

// sniffSpace reports whether a sniff skips r before deciding whether a body
// starts like JSON: JSON's own white space (RFC 8259 section 2) and every
// other character a lenient parser skips there (Json.NET and JSON5 take any
// Unicode white space, U+FEFF included, and form feed and vertical tab),
// and the record separator (U+001E) that starts each record of a JSON text
// sequence (application/json-seq, RFC 7464). Skipping more than JSON
// allows is the fail-closed side: a body it makes look like JSON is then
// parsed strictly and refused when it is not JSON.
func sniffSpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\uFEFF' || r == 0x1E
}

// replay reads space, then br: the body sniffHead read from.
func replay(space []byte, br *bufio.Reader) io.Reader {
	if len(space) == 0 {
		return br
	}
	return io.MultiReader(bytes.NewReader(space), br)
}

type readCloser struct {
	io.Reader
	io.Closer
}

// refuseUpgrade refuses protocol upgrades fieldseal cannot follow. An h2c
// upgrade is never passed on, on any request: after it the connection would
// carry HTTP/2 the proxy does not read, and a lenient application takes
// plaintext writes on it. As RFC 9110 section 7.8 lets a server, fieldseal
// ignores it instead: the Upgrade and HTTP2-Settings fields are dropped and
// the request is served (and guarded) over HTTP/1.1, so a client such as
// curl --http2 still works. Any other upgrade of a request that carries a
// body, or on a route that seals request paths, is refused. A websocket
// upgrade elsewhere passes: its frames are opaque (README, threat model).
// route is the request's route that seals request paths (reqState.pathRoute),
// nil when none does.
func refuseUpgrade(r *http.Request, route *fieldmap.Route) error {
	up := r.Header[hdrUpgrade]
	if httpguts.HeaderValuesContainsToken(up, "h2c") || headerGet(r.Header, hdrHTTP2Settings) != "" {
		r.Header.Del("Upgrade")
		r.Header.Del("Http2-Settings")
		r.Header.Del("Connection") // hop-by-hop; naming the upgrade
		return nil
	}
	if len(up) == 0 {
		return nil
	}
	switch {
	case r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody:
		return fmt.Errorf("an upgrade request with a body: %w", ErrUpgradeRefused)
	case route != nil:
		return fmt.Errorf("route %q seals request fields and cannot be upgraded to %q: %w", route.Name, strings.Join(up, ", "), ErrUpgradeRefused)
	}
	return nil
}

// sealForm seals class members in an urlencoded body, read whole (bounded
// like a JSON body).
func (p *Proxy) sealForm(w http.ResponseWriter, r *http.Request, rs *reqState, t *transform.Transform) error {
	codings, err := parseCodings(r.Header.Values("Content-Encoding"))
	if err != nil {
		return err
	}
	in := p.bufs.get()
	defer p.bufs.put(in)
	body, err := requestDecoder(http.MaxBytesReader(w, r.Body, p.maxBody), codings, &rs.budget)
	if errors.Is(err, ErrBusy) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: %w", rewrite.ErrInvalidForm, err)
	}
	doc, err := readLimited((*in)[:0], body, p.maxBody, r.ContentLength, &rs.budget)
	*in = doc[:0]
	switch {
	case errors.Is(err, errTooLarge), isMaxBytes(err):
		return fmt.Errorf("read request body (limits.max_body_bytes: %d): %w", p.maxBody, ErrBodyTooLarge)
	case errors.Is(err, ErrBusy):
		return fmt.Errorf("read request body: %w", err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrReadBody, err)
	}
	if len(rs.found.ByBody) > 0 {
		// A POST: its _method may route it elsewhere, where a form may not
		// be taken (pathRoute).
		if err := rs.addBodyRoutes(r, func(yield func(string)) { fieldmap.MethodParams(string(doc), yield) }); err != nil {
			return err
		}
		if route := rs.pathRoute(); route != nil {
			return contentTypeError(r.Header.Get("Content-Type"), route)
		}
	}
	out := p.bufs.get()
	defer p.bufs.put(out)
	sealed, err := t.SealForm((*out)[:0], doc)
	*out = sealed
	if err != nil {
		return err
	}
	if len(rs.also) > 0 {
		if sealed, err = p.sealAlso(r, rs, t.Ring(), sealed, true); err != nil {
			return err
		}
	}
	setBody(r, rs, bytes.Clone(sealed))
	return nil
}

// sealMultipart seals class members in a multipart body as it streams:
// file uploads are not bounded by the body limit, so the body is not read
// whole; each member part is (at most MaxBodyBytes). An error found
// mid-stream (a file part named like a member, a class the caller may not
// write) breaks the forwarded body, so the upstream never sees a complete
// request; errorHandler reports it with its own category.
func (p *Proxy) sealMultipart(r *http.Request, rs *reqState, t *transform.Transform) error {
	if route := rs.bodyRouteSealing(); route != nil {
		// Streamed, so its _method part is not read before the body goes
		// out: it could make the POST route, which seals request values
		// a multipart body cannot be checked for.
		return fmt.Errorf("a multipart POST that a _method part would make route %q, which seals request paths or query parameters: %w", route.Name, ErrUnsupportedMediaType)
	}
	for _, also := range rs.also {
		if rs.alsoSeals(r, also) {
			// Its class members, sealed as they stream in route's
			// context, would not open in also's.
			return fmt.Errorf("a multipart body that routes %q and %q, which the request may take, seal in different contexts: %w", rs.route.Name, also.Name, ErrAmbiguousRoute)
		}
	}
	// Any other route such a part could make opens the response too.
	rs.unread = rs.found.ByBody
	codings, err := parseCodings(r.Header.Values("Content-Encoding"))
	if err != nil {
		return err
	}
	body, err := requestDecoder(r.Body, codings, &rs.budget)
	if errors.Is(err, ErrBusy) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: %w", rewrite.ErrInvalidForm, err)
	}
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	pr, pw := io.Pipe()
	rs.streamBody, rs.streamDone = pr, make(chan struct{})
	go func() {
		defer close(rs.streamDone)
		// Member parts are read whole: charged to the budget as they grow,
		// on a charge of this goroutine's own (the request's may grow at
		// the same time, for an early response).
		parts := held{b: rs.budget.b}
		defer parts.release()
		err := t.SealMultipart(pw, body, params["boundary"], p.maxBody, parts.bufferTo)
		rs.streamErr = err
		_ = pw.CloseWithError(err)
	}()
	r.Body = pr
	r.ContentLength = -1
	r.Header.Del("Content-Length")
	r.Header.Del("Content-Encoding")
	for _, h := range bodyDigestHeaders {
		r.Header.Del(h)
	}
	return nil
}

// unauthenticated is the caller of a request no route lists whose
// credentials did not verify: it may write no class and reads every class
// sealed, so such a request passes only while it carries nothing protected.
type unauthenticated struct{}

func (unauthenticated) ID() string                     { return "unauthenticated" }
func (unauthenticated) Action(string) transform.Action { return transform.ActionSealed }
func (unauthenticated) MayWrite(string) bool           { return false }

// budget bounds the bytes every request holds in body buffers at once
// (limits.max_buffered_bytes), so that many slow or large bodies together
// get 503 instead of the process's memory.
type budget struct{ sem *semaphore.Weighted }

func newBudget(max int64) *budget {
	if max <= 0 {
		return nil
	}
	return &budget{sem: semaphore.NewWeighted(max)}
}

// held is what one request holds of a budget.
type held struct {
	b *budget
	n int64
	// beside is the part of n held beside the body buffers (a sniff's
	// leading white space, a decoder's window), which stays in memory
	// while a body buffer fills: bufferTo charges a buffer on top of it.
	beside int64
}

// hold takes n more bytes from the budget for memory held beside the body
// buffers (ErrBusy when it is spent).
func (h *held) hold(n int64) error {
	if h == nil {
		return nil
	}
	if err := h.grow(h.n + n); err != nil {
		return err
	}
	h.beside += n
	return nil
}

// bufferTo makes h hold a body buffer of capacity bytes on top of what it
// holds beside the buffers. Buffers are charged by absolute size: a
// request's and its response's buffer share one charge.
func (h *held) bufferTo(capacity int64) error {
	if h == nil {
		return nil
	}
	return h.grow(h.beside + capacity)
}

// grow makes h hold to bytes, taking the difference from the budget.
func (h *held) grow(to int64) error {
	if h == nil || h.b == nil || to <= h.n {
		return nil
	}
	if !h.b.sem.TryAcquire(to - h.n) {
		return fmt.Errorf("buffer %d bytes: %w", to, ErrBusy)
	}
	h.n = to
	return nil
}

// release gives back what h holds.
func (h *held) release() {
	if h.b != nil && h.n > 0 {
		h.b.sem.Release(h.n)
	}
	h.n = 0
}

// brotliWindow is the most memory a brotli decoder may reserve for its
// window (RFC 7932: 2^24 bytes). It is what the client's first bytes
// declare, not what it sends, so each brotli request body is charged this
// much of the buffered-bytes budget up front.
const brotliWindow = 16 << 20

// requestDecoder is decodeBody for a request body: a brotli or zstd coding
// first takes its largest window from h's budget (ErrBusy when it is spent).
func requestDecoder(r io.Reader, codings []string, h *held) (io.Reader, error) {
	for _, c := range codings {
		window := int64(0)
		switch c {
		case codingBrotli:
			window = brotliWindow
		case codingZstd:
			window = zstdMaxWindow
		}
		if window > 0 {
			if err := h.hold(window); err != nil {
				return nil, fmt.Errorf("decode %s body: %w", c, err)
			}
		}
	}
	return decodeBody(r, codings)
}

// decodingBody is requestDecoder keeping body's Close.
func decodingBody(body io.ReadCloser, codings []string, h *held) (io.ReadCloser, error) {
	r, err := requestDecoder(body, codings, h)
	if errors.Is(err, ErrBusy) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	return readCloser{r, body}, nil
}

// sniffResponseJSON reports whether a response body declared as something
// other than JSON starts like JSON (after a UTF-8 byte order mark and any
// amount of white space, sniffHead), as a client that parses it anyway
// would read it; resp.Body keeps every byte. White space beyond limit, or
// beyond what h's budget allows, counts as JSON: the caller's transform
// then refuses the body rather than pass it unread. A body in a
// Content-Encoding is looked into decoded (sniffEncodedResponseJSON).
func sniffResponseJSON(resp *http.Response, limit int64, h *held) bool {
	if len(resp.Header.Values(hdrContentEncoding)) > 0 {
		return sniffEncodedResponseJSON(resp, limit, h)
	}
	br := bufio.NewReaderSize(resp.Body, sniffSize)
	head, space, err := sniffHead(br, limit, h)
	resp.Body = readCloser{replay(space, br), resp.Body}
	if err != nil {
		return true
	}
	return len(head) > 0 && (head[0] == '{' || head[0] == '[')
}

// sniffEncodedResponseJSON is sniffResponseJSON for a body in a
// Content-Encoding: the head of the decoded body is looked at, as the
// client that decodes it reads it, while the bytes as they came are kept
// (at most limit) and handed on as they were. A coding the proxy does not
// decode, a body that does not decode or more than limit bytes before the
// head count as JSON: the caller's transform then refuses the body rather
// than pass it unread.
func sniffEncodedResponseJSON(resp *http.Response, limit int64, h *held) bool {
	codings, err := parseCodings(resp.Header[hdrContentEncoding])
	if err != nil {
		return true
	}
	var raw bytes.Buffer
	dec, err := decodeBody(io.TeeReader(io.LimitReader(resp.Body, limit+1), &raw), codings)
	if err != nil {
		resp.Body = readCloser{io.MultiReader(&raw, resp.Body), resp.Body}
		return true
	}
	head, _, err := sniffHead(bufio.NewReaderSize(dec, sniffSize), limit, h)
	resp.Body = readCloser{io.MultiReader(&raw, resp.Body), resp.Body}
	if err != nil || int64(raw.Len()) > limit {
		return true
	}
	return len(head) > 0 && (head[0] == '{' || head[0] == '[')
}

// bindMember sets t's AAD context to the value of the top-level member of
// doc (a route's context.member: a record id or tenant field), so a value
// copied into another record does not open there. The member must be a
// string or a number.
func bindMember(t *transform.Transform, doc []byte, member string) error {
	// Every top-level member of that name, in any letter case, must agree:
	// Go's encoding/json and Jackson bind the last one, in any case.
	var v gjson.Result
	n, differ := 0, false
	gjson.ParseBytes(doc).ForEach(func(k, val gjson.Result) bool {
		if !strings.EqualFold(k.Str, member) {
			return true
		}
		if n > 0 && (val.Type != v.Type || val.Raw != v.Raw) {
			differ = true
		}
		v, n = val, n+1
		return true
	})
	if differ {
		t.SetContext("")
		return fmt.Errorf("the body has %d members %q with different values for its context; send one: %w", n, member, ErrMissingContext)
	}
	if v.Type != gjson.String && v.Type != gjson.Number {
		t.SetContext("")
		return fmt.Errorf("the body needs member %q (a string or number) for its context: %w", member, ErrMissingContext)
	}
	t.SetContext(v.String())
	return nil
}
