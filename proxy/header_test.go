package proxy

import (
	"mime"
	"net/http"
	"net/textproto"
	"slices"
	"testing"
)

func TestHeaderNamesAreCanonical(t *testing.T) {
	for _, name := range canonicalHeaders {
		if c := textproto.CanonicalMIMEHeaderKey(name); c != name {
			t.Errorf("header name %q is used as canonical but canonicalizes to %q", name, c)
		}
	}
}

func TestIsCanonicalAgreesWithTextproto(t *testing.T) {
	for _, name := range []string{
		"X-Http-Method-Override", "x-http-method-override", "X-HTTP-Method", "Content-Type", "Etag", "ETag",
		"A", "a", "", "-", "X--Y", "X-2fa", "X-2Fa", "2x", "X_Y", "X Y", "Content-Md5", "Content-MD5", "Ünicode",
	} {
		// A false answer only costs a call to Get; a wrong true one would
		// miss the field.
		if isCanonical(name) && textproto.CanonicalMIMEHeaderKey(name) != name {
			t.Errorf("isCanonical(%q) = true, but it canonicalizes to %q", name, textproto.CanonicalMIMEHeaderKey(name))
		}
	}
}

func TestHeaderLookupIsValues(t *testing.T) {
	h := http.Header{}
	h.Add("X-Http-Method-Override", "GET")
	h.Add("X-Http-Method-Override", "PUT")
	h.Set("Content-Type", "application/json")
	h["X-Not canonical"] = []string{"kept"} // as net/http keeps a name with a space
	get := newHeaderLookup(h).values
	for _, name := range []string{"X-Http-Method-Override", "x-http-method-override", "X-HTTP-METHOD-OVERRIDE",
		"X-Http-Method", "content-type", "Content-Type", "X-Not canonical", "x-not canonical", ""} {
		if got, want := get(name), h.Values(name); !slices.Equal(got, want) {
			t.Errorf("headerLookup(%q) = %q, http.Header.Values = %q", name, got, want)
		}
	}
}

func TestParseMediaTypeFastPathAgrees(t *testing.T) {
	for _, v := range []string{
		"application/json", "application/vnd.api+json", "text/plain", "application/x-ndjson", "text/event-stream",
		"Application/JSON", "application/json; charset=utf-8", "application/json;charset=UTF-16", "application",
		"application/", "/json", "application/json/x", "application/json ", " application/json", "a/b", "x/y_z", "",
		"application/json;", "text/html; charset=\"a;b\"",
	} {
		mt, params, err := parseMediaType(v)
		wantMT, wantParams, wantErr := mime.ParseMediaType(v)
		if mt != wantMT || (err == nil) != (wantErr == nil) || len(params) != len(wantParams) {
			t.Errorf("parseMediaType(%q) = %q, %v, %v; mime.ParseMediaType: %q, %v, %v", v, mt, params, err, wantMT, wantParams, wantErr)
			continue
		}
		for k, v := range wantParams {
			if params[k] != v {
				t.Errorf("parseMediaType(%q): param %s = %q, want %q", v, k, params[k], v)
			}
		}
	}
}

func TestAcceptDecodable(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want []string // nil: no Accept-Encoding
	}{
		{nil, nil},
		{[]string{"gzip"}, []string{"gzip"}},
		{[]string{"gzip, deflate, br, zstd"}, []string{"gzip, deflate, br, zstd"}},
		{[]string{"gzip", "br;q=0.5"}, []string{"gzip", "br;q=0.5"}}, // all decodable: left as sent
		{[]string{"gzip, *"}, []string{"gzip"}},
		{[]string{"gzip, compress, br;q=0.5"}, []string{"gzip, br;q=0.5"}},
		{[]string{"GZip, Deflate"}, []string{"GZip, Deflate"}},
		{[]string{"gzip,,br"}, []string{"gzip, br"}},
		{[]string{"compress"}, []string{"identity"}},
		{[]string{"*"}, []string{"identity"}},
	} {
		h := http.Header{}
		if tt.in != nil {
			h["Accept-Encoding"] = tt.in
		}
		acceptDecodable(h)
		if got := h["Accept-Encoding"]; !slices.Equal(got, tt.want) {
			t.Errorf("Accept-Encoding %q: forwarded %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A CGI server (Rack, PHP) gives X_HTTP_METHOD_OVERRIDE and
// X-HTTP-Method-Override one variable: headerLookup reads both.
func TestHeaderLookupReadsCGISpellings(t *testing.T) {
	h := http.Header{"X-Http-Method-Override": {"PATCH"}, "X_http_method_override": {"PUT"}, "X-Http_method-Override": {"DELETE"}, "X_other": {"GET"}}
	got := newHeaderLookup(h).values("X-Http-Method-Override")
	slices.Sort(got)
	if !slices.Equal(got, []string{"DELETE", "PATCH", "PUT"}) {
		t.Errorf("headerLookup = %q, want every spelling's value", got)
	}
	if got := newHeaderLookup(http.Header{"X-Http-Method-Override": {"PUT"}}).values("X-Http-Method-Override"); !slices.Equal(got, []string{"PUT"}) {
		t.Errorf("headerLookup without underscores = %q", got)
	}
	if got := newHeaderLookup(http.Header{"X-Original-Url": {"/a"}, "X_original_url": {"/b"}}).values("x-original-url"); !slices.Equal(got, []string{"/a", "/b"}) {
		t.Errorf("headerLookup of a name not canonical = %q, want each line once", got)
	}
}
