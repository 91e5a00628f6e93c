package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/admin"
	"github.com/fieldseal/fieldseal/crypto/keycache"
	"github.com/fieldseal/fieldseal/crypto/localkeys"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// TestKeyCacheLifecycle runs the proxy on the real key cache over a real
// local key-ring file: not ready and refusing protected routes before the
// first load, sealing once loaded, and after a rotation sealing with the new
// key while values under the old one still open. No restart in between.
func TestKeyCacheLifecycle(t *testing.T) {
	ringFile, mk := sidecartest.LocalRing(t)
	cache := keycache.New(localkeys.New(ringFile, mk), keycache.Options{})

	var store oneDocument
	var events []RequestEvent
	h := newHarness(t, store.respond, func(o *Options) {
		o.Keys = cache
		o.Observer = func(e RequestEvent) { events = append(events, e) }
	})
	adminSrv := httptest.NewServer(admin.New(admin.Options{Keys: cache, Status: cache}))
	defer adminSrv.Close()
	ready := func() (int, string) {
		resp, err := adminSrv.Client().Get(adminSrv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	write := func(email string) *http.Response {
		resp, _ := h.do(t, http.MethodPost, "/customers", jsonHeader(), strings.NewReader(`{"email":"`+email+`"}`))
		return resp
	}

	if code, body := ready(); code != 503 {
		t.Errorf("readyz before the first load: %d %s", code, body)
	}
	if resp := write("early@example.com"); resp.StatusCode != 503 || len(h.up.requests()) != 0 {
		t.Fatalf("write before keys: status %d, %d forwarded", resp.StatusCode, len(h.up.requests()))
	}

	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := ready(); code != 200 || gjson.Get(body, "keys.primary").Uint() != 1 {
		t.Errorf("readyz after load: %d %s", code, body)
	}
	if resp := write("v1@example.com"); resp.StatusCode != 200 {
		t.Fatalf("write with keys: %d", resp.StatusCode)
	}
	v1Stored := gjson.GetBytes(store.stored, "email").Str
	if last := events[len(events)-1]; len(last.KeyIDs) != 1 || last.KeyIDs[0] != 1 {
		t.Errorf("first write used keys %v, want [1]", last.KeyIDs)
	}

	if _, err := localkeys.Rotate(ringFile, mk); err != nil {
		t.Fatal(err)
	}
	if err := cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp := write("v2@example.com"); resp.StatusCode != 200 {
		t.Fatalf("write after rotation: %d", resp.StatusCode)
	}
	if last := events[len(events)-1]; len(last.KeyIDs) != 1 || last.KeyIDs[0] != 2 {
		t.Errorf("write after rotation used keys %v, want [2]", last.KeyIDs)
	}
	// A value sealed under version 1 still opens after the rotation.
	store.stored = []byte(`{"email":"` + v1Stored + `"}`)
	resp, body := h.do(t, http.MethodGet, "/customers/7", nil, nil)
	if resp.StatusCode != 200 || gjson.GetBytes(body, "email").Str != "v1@example.com" {
		t.Errorf("read of a v1 value after rotation: %d %s", resp.StatusCode, body)
	}
}
