package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/fieldseal/fieldseal/internal/sidecartest"
	"github.com/fieldseal/fieldseal/transform"
)

// End-to-end benchmarks: a client, the proxy and an upstream, each a real
// HTTP/1.1 server or client over loopback, as the load harness (bench/) runs
// them but in one process, so that `-cpuprofile` and `-memprofile` show the
// proxy's share. The upstream does as little as it can: it echoes POST bodies
// and answers GET /customers with a fixed sealed list.

// benchList is a 100-element customer list (about 20 KB) whose email and
// phone are sealed as the customers-list route's response side names them.
func benchList(b *testing.B, h *harness) []byte {
	b.Helper()
	var doc bytes.Buffer
	doc.WriteByte('[')
	for i := range 100 {
		if i > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"id":%d,"name":"Customer %d","email":"customer%d@example.com","phone":"+44 20 7946 %04d",`+
			`"address":{"street":"%d Analytical Engine Way","city":"London","zip":"NW1 6XE","country":"GB"},"tier":"gold","active":true}`,
			i, i, i, i, i)
	}
	doc.WriteByte(']')
	route := h.proxy.routes.Load().Match(http.MethodGet, "/customers")
	if route == nil || route.Response == nil {
		b.Fatal("customers-list route missing from the test config")
	}
	sealed, err := transform.New(transform.Params{Ring: h.ring, Side: route.Response}).Seal(nil, doc.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	return sealed
}

// newBenchHarness is a proxy in front of a minimal upstream; list is served
// for GET /customers.
func newBenchHarness(b *testing.B, list func(*harness) []byte) (*harness, *http.Client) {
	b.Helper()
	h := &harness{ring: testRing(b), keys: &keyHolder{}}
	h.keys.p.Store(h.ring)
	var listBody []byte
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Method == http.MethodGet {
			body = listBody
		} else {
			var err error
			if body, err = io.ReadAll(r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		hd := w.Header()
		hd["Content-Type"] = []string{"application/json"}
		hd["Content-Length"] = []string{strconv.Itoa(len(body))}
		_, _ = w.Write(body)
	}))
	b.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	p, err := New(Options{Upstream: u, Routes: testMap(b), Keys: h.keys, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	h.proxy = p
	h.front = httptest.NewServer(p)
	b.Cleanup(func() {
		h.front.Close()
		p.CloseIdleConnections()
	})
	if list != nil {
		listBody = list(h)
	}
	return h, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

// benchRequests sends method path with body through the proxy b.N times and
// reads each response whole.
func benchRequests(b *testing.B, h *harness, client *http.Client, method, path string, body []byte) {
	b.ReportAllocs()
	buf := make([]byte, 64<<10)
	rd := bytes.NewReader(body)
	for b.Loop() {
		rd.Reset(body)
		req, _ := http.NewRequest(method, h.front.URL+path, rd)
		req.ContentLength = int64(len(body))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Body = http.NoBody
		}
		drainOK(b, client, req, buf)
	}
}

// BenchmarkPassThroughPOST1KB is load case (c): a 1 KB POST on a route that
// protects nothing, echoed back.
func BenchmarkPassThroughPOST1KB(b *testing.B) {
	h, client := newBenchHarness(b, nil)
	benchRequests(b, h, client, http.MethodPost, "/unmatched", sidecartest.BenchDoc)
}

// BenchmarkSealPOST1KB is load case (d) POST: 5 fields sealed on the way in,
// opened again in the echoed response.
func BenchmarkSealPOST1KB(b *testing.B) {
	h, client := newBenchHarness(b, nil)
	benchRequests(b, h, client, http.MethodPost, "/bench", sidecartest.BenchDoc)
}

// BenchmarkOpenList100 is load case (e): a GET of a 100-element list with 2
// sealed fields per element, 200 values opened.
func BenchmarkOpenList100(b *testing.B) {
	h, client := newBenchHarness(b, func(h *harness) []byte { return benchList(b, h) })
	benchRequests(b, h, client, http.MethodGet, "/customers", nil)
}

// BenchmarkOpenList100Transform is BenchmarkOpenList100's body transform
// alone: one pass over the sealed list opening 200 values into a pooled
// buffer, without HTTP around it.
func BenchmarkOpenList100Transform(b *testing.B) {
	h, _ := newBenchHarness(b, nil)
	list := benchList(b, h)
	route := h.proxy.routes.Load().Match(http.MethodGet, "/customers")
	var pool bufferPool
	var st transform.Stats
	b.ReportAllocs()
	b.SetBytes(int64(len(list)))
	for b.Loop() {
		st.Fields, st.KeyIDs = st.Fields[:0], st.KeyIDs[:0]
		var t transform.Transform
		t.Reset(transform.Params{Ring: h.ring, Side: route.Response, Stats: &st})
		buf := pool.get()
		out, err := t.Open((*buf)[:0], list)
		if err != nil {
			b.Fatal(err)
		}
		*buf = out
		pool.put(buf)
	}
}

// BenchmarkOpenGET1KB is load case (d) GET: the 1 KB document with its 5
// fields sealed, opened on the way out.
func BenchmarkOpenGET1KB(b *testing.B) {
	h, client := newBenchHarness(b, func(h *harness) []byte {
		route := h.proxy.routes.Load().Match(http.MethodGet, "/bench")
		sealed, err := transform.New(transform.Params{Ring: h.ring, Side: route.Response}).Seal(nil, sidecartest.BenchDoc)
		if err != nil {
			b.Fatal(err)
		}
		return sealed
	})
	benchRequests(b, h, client, http.MethodGet, "/bench", nil)
}

// BenchmarkPassThroughGET1KB is load case (c) GET: a GET on a route that
// protects nothing, answered with a 1 KB document (the bench
// upstream answers every GET).
func BenchmarkPassThroughGET1KB(b *testing.B) {
	h, client := newBenchHarness(b, func(*harness) []byte { return sidecartest.BenchDoc })
	benchRequests(b, h, client, http.MethodGet, "/unmatched", nil)
}

// drainOK sends req with client, reads the answer through buf (reused, so
// the read allocates nothing the benchmark would count) and fails unless it
// is 200 OK.
func drainOK(b *testing.B, client *http.Client, req *http.Request, buf []byte) {
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	for {
		if _, err := resp.Body.Read(buf); err != nil {
			break
		}
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatal(resp.Status)
	}
}
