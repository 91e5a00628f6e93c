package proxy

import (
	"bufio"
	"io"
	"net/http"
	"slices"
	"strings"
)

// decodableCodings are the Accept-Encoding entries an upstream may be
// offered: the content codings the proxy decodes (parseCodings) and
// identity.
var decodableCodings = []string{codingGzip, "x-gzip", codingDeflate, codingBrotli, codingZstd, "identity"}

// acceptDecodable rewrites the request's Accept-Encoding to the entries the
// proxy can decode, keeping their order and weights, so that an upstream
// never answers a response the proxy may have to open in a coding it would
// have to refuse (a browser offers "gzip, deflate, br, zstd" and more, and
// the upstream picks). "*" is dropped: it would let the upstream choose any
// coding. With no entry left it asks for identity. A request with no
// Accept-Encoding keeps none (the transport then asks for gzip itself and
// decodes it).
func acceptDecodable(h http.Header) {
	values := h[hdrAcceptEncoding]
	if len(values) == 0 || allDecodable(values) {
		return // nothing to drop: left as the client sent it, unallocated
	}
	var kept []string
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			e = strings.TrimSpace(e)
			name, _, _ := strings.Cut(e, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			for _, c := range decodableCodings {
				if name == c {
					kept = append(kept, e)
					break
				}
			}
		}
	}
	if len(kept) == 0 {
		headerSet(h, hdrAcceptEncoding, "identity")
		return
	}
	headerSet(h, hdrAcceptEncoding, strings.Join(kept, ", "))
}

// allDecodable reports whether every entry of the Accept-Encoding values is
// a coding the proxy decodes (what browsers send: "gzip, deflate, br,
// zstd"); an empty entry or "*" is not.
func allDecodable(values []string) bool {
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(e, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if !slices.Contains(decodableCodings, name) {
				return false
			}
		}
	}
	return true
}

// decodeBody is decoder for a body that may be empty: a zero-length body
// labelled with a coding is an empty body (upstreams send one with a 201 or
// a 200 of nothing), not a broken stream.
func decodeBody(r io.Reader, codings []string) (io.Reader, error) {
	if len(codings) == 0 {
		return r, nil
	}
	// Full-size: gzip and flate read the compressed stream byte by byte
	// through this reader's ReadByte (they would wrap a reader without one
	// in a bufio.Reader of this size anyway), so a small one only adds a
	// refill per few bytes.
	br := bufio.NewReader(r)
	if _, err := br.Peek(1); err == io.EOF {
		return br, nil
	}
	return decoder(br, codings)
}
