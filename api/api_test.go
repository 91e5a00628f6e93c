package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
)

func TestSealOpenRoundTripKeepsOrderAndTypes(t *testing.T) {
	ta := newTestAPI(t, nil)
	sealed := ta.post(t, "/v1/seal", "full", `{"items":[
		{"class":"email","value":"jane@example.com"},
		{"class":"phone","value":12345},
		{"class":"nope","value":"x"},
		{"route":"customers-write","document":{"name":"Jane","email":"jane@example.com","phone":"+1 555"}},
		{"fields":[{"path":"a.#.email","class":"email"}],"document":{"a":[{"email":"a@x"},{"email":"b@x"}]}},
		{"class":"email","value":{"nested":[1,true,null]},"context":"tenant-1"}
	]}`)
	if sealed.Status != http.StatusOK || len(sealed.Batch.Items) != 6 {
		t.Fatalf("seal: %d %s", sealed.Status, sealed.Raw)
	}
	for _, plain := range []string{"jane@example.com", "12345", "a@x", "+1 555", "nested"} {
		if strings.Contains(string(sealed.Raw), plain) {
			t.Errorf("seal answer holds plaintext %q: %s", plain, sealed.Raw)
		}
	}
	it := sealed.Batch.Items
	if e := it[2].Error; e == nil || e.Code != "unknown_class" {
		t.Errorf("item 3 (unknown class) = %+v, want unknown_class", it[2])
	}
	if !strings.HasPrefix(str(t, it[0].Value), crypto.Prefix) || !strings.HasPrefix(str(t, it[1].Value), crypto.Prefix) {
		t.Errorf("values are not sealed: %s", sealed.Raw)
	}
	open := ta.post(t, "/v1/open", "full", fmt.Sprintf(`{"items":[
		{"class":"phone","value":%s},
		{"class":"email","value":%s},
		{"route":"customers-write","document":%s},
		{"fields":[{"path":"a.#.email","class":"email"}],"document":%s},
		{"class":"email","value":%s,"context":"tenant-1"},
		{"class":"email","value":%s,"context":"tenant-2"},
		{"class":"phone","value":%s}
	]}`, it[1].Value, it[0].Value, it[3].Document, it[4].Document, it[5].Value, it[5].Value, it[0].Value))
	if open.Status != http.StatusOK {
		t.Fatalf("open: %d %s", open.Status, open.Raw)
	}
	got := open.Batch.Items
	want := []string{`12345`, `"jane@example.com"`, `{"name":"Jane","email":"jane@example.com","phone":"+1 555"}`,
		`{"a":[{"email":"a@x"},{"email":"b@x"}]}`, `{"nested":[1,true,null]}`}
	for i, w := range want {
		ans := got[i].Value
		if ans == nil {
			ans = got[i].Document
		}
		if ans == nil || compact(t, ans) != w {
			t.Errorf("open item %d = %s, want %s", i+1, ans, w)
		}
	}
	if e := got[5].Error; e == nil || e.Code != "open_failed" {
		t.Errorf("a value opened under another context = %+v, want open_failed", got[5])
	}
	if e := got[6].Error; e == nil || e.Code != "open_failed" {
		t.Errorf("an e-mail opened as a phone = %+v, want open_failed", got[6])
	}
}

func TestItemErrors(t *testing.T) {
	ta := newTestAPI(t, nil)
	sealedEmail := str(t, ta.post(t, "/v1/seal", "full", `{"items":[{"class":"email","value":"a@x"}]}`).Batch.Items[0].Value)
	for _, tc := range []struct {
		name, op, item, code string
	}{
		{"an item with a value and a document is invalid", "seal", `{"class":"email","value":"a","document":{}}`, "invalid_item"},
		{"an item with neither is invalid", "seal", `{"class":"email"}`, "invalid_item"},
		{"an item with an unknown member is invalid", "seal", `{"class":"email","value":"a","colour":"red"}`, "invalid_item"},
		{"a value without a class is invalid", "seal", `{"value":"a"}`, "invalid_item"},
		{"a value with a route is invalid", "seal", `{"value":"a","class":"email","route":"customers-write"}`, "invalid_item"},
		{"an unknown route is named", "seal", `{"route":"nope","document":{}}`, "unknown_route"},
		{"a route without request fields cannot seal", "seal", `{"route":"customers-list","document":[]}`, "no_fields"},
		{"a route without response fields cannot open", "open", `{"route":"tenant-write","document":{},"context":"t"}`, "no_fields"},
		{"a route binding a context needs one", "seal", `{"route":"tenant-write","document":{"email":"a@x"}}`, "missing_context"},
		{"a route binding none refuses one", "seal", `{"route":"customers-write","document":{},"context":"t"}`, "invalid_item"},
		{"a field list that does not compile is refused", "seal", `{"fields":[{"path":"a.#(b==1)","class":"email"}],"document":{}}`, "invalid_fields"},
		{"a field list with an unknown class is refused", "seal", `{"fields":[{"path":"a","class":"nope"}],"document":{}}`, "unknown_class"},
		{"an empty field list is refused", "seal", `{"fields":[],"document":{}}`, "invalid_fields"},
		{"a route and a field list together are refused", "seal", `{"route":"customers-write","fields":[{"path":"a","class":"email"}],"document":{}}`, "invalid_item"},
		{"a masked value is never sealed", "seal", `{"class":"email","value":"fsm:j***@x"}`, "masked_value"},
		{"a sealed value is refused from a caller that may not send one", "seal", `{"class":"email","value":"` + sealedEmail + `"}`, "sealed_value_refused"},
		{"a sealed value hidden in a document is refused too", "seal", `{"fields":[{"path":"e","class":"email"}],"document":{"e":"a@x","note":"` + sealedEmail + `"}}`, "sealed_value_refused"},
		{"a path that meets another shape is refused", "seal", `{"fields":[{"path":"a.e","class":"email"}],"document":{"a":"a@x"}}`, "shape_mismatch"},
		{"a tampered value does not open", "open", `{"class":"email","value":"` + sealedEmail[:len(sealedEmail)-4] + `AAAA"}`, "open_failed"},
		{"lookup needs a deterministic class", "lookup", `{"class":"email","value":"a@x"}`, "not_deterministic"},
		{"lookup takes plaintext", "lookup", `{"class":"customer_no","value":"fs1:AAAA"}`, "invalid_value"},
		{"lookup takes no documents", "lookup", `{"route":"customers-write","document":{}}`, "invalid_item"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The item sits between two good ones, which must be unaffected.
			good := `{"class":"customer_no","value":"C-1"}`
			if tc.op == "open" {
				good = `{"class":"email","value":"` + sealedEmail + `"}`
			}
			r := ta.post(t, "/v1/"+tc.op, "full", `{"items":[`+good+`,`+tc.item+`,`+good+`]}`)
			if r.Status != http.StatusOK || len(r.Batch.Items) != 3 {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			if e := r.Batch.Items[1].Error; e == nil || e.Code != tc.code {
				t.Errorf("item = %s, want error %s", r.Raw, tc.code)
			}
			if r.Batch.Items[0].Error != nil || r.Batch.Items[2].Error != nil {
				t.Errorf("the good items failed too: %s", r.Raw)
			}
			if strings.Contains(r.Batch.Items[1].Error.Message, "a@x") {
				t.Errorf("error message holds the value: %s", r.Batch.Items[1].Error.Message)
			}
		})
	}
}

func TestActionsPerCaller(t *testing.T) {
	ta := newTestAPI(t, nil)
	sealed := ta.post(t, "/v1/seal", "full", `{"items":[{"class":"email","value":"jane@example.com"}]}`).Batch.Items[0].Value
	openAs := func(token string, item string) itemResult {
		t.Helper()
		r := ta.post(t, "/v1/open", token, `{"items":[`+item+`]}`)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		return r.Batch.Items[0]
	}
	valueItem := `{"class":"email","value":` + string(sealed) + `}`
	t.Run("decrypt gives the plaintext", func(t *testing.T) {
		if got := openAs("full", valueItem); str(t, got.Value) != "jane@example.com" {
			t.Errorf("got %s", got.Value)
		}
	})
	t.Run("mask gives a masked string", func(t *testing.T) {
		if got := str(t, openAs("masker", valueItem).Value); !strings.HasPrefix(got, "fsm:") || strings.Contains(got, "jane") {
			t.Errorf("got %q", got)
		}
	})
	t.Run("sealed gives the sealed value as it is", func(t *testing.T) {
		if got := openAs("writer", valueItem).Value; string(got) != string(sealed) {
			t.Errorf("got %s, want %s", got, sealed)
		}
	})
	t.Run("sealed seals legacy plaintext on the way out", func(t *testing.T) {
		if got := str(t, openAs("writer", `{"class":"email","value":"legacy@x"}`).Value); !strings.HasPrefix(got, crypto.Prefix) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("deny refuses a value item", func(t *testing.T) {
		if got := openAs("denied", valueItem); got.Error == nil || got.Error.Code != "forbidden" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("deny leaves a document's value sealed, as the proxy does", func(t *testing.T) {
		got := openAs("denied", `{"fields":[{"path":"e","class":"email"}],"document":{"e":`+string(sealed)+`}}`)
		if compact(t, got.Document) != `{"e":`+string(sealed)+`}` {
			t.Errorf("got %s", got.Document)
		}
	})
	t.Run("a caller that may not write cannot seal or look up", func(t *testing.T) {
		r := ta.post(t, "/v1/seal", "denied", `{"items":[{"class":"email","value":"a@x"}]}`)
		l := ta.post(t, "/v1/lookup", "denied", `{"items":[{"class":"customer_no","value":"C-1"}]}`)
		for _, res := range []result{r, l} {
			if res.Status != http.StatusOK || res.Batch.Items[0].Error == nil || res.Batch.Items[0].Error.Code != "forbidden" {
				t.Errorf("got %d %s", res.Status, res.Raw)
			}
		}
	})
}

func TestLookupIsTheDeterministicSealedValue(t *testing.T) {
	ta := newTestAPI(t, nil)
	l := ta.post(t, "/v1/lookup", "writer", `{"items":[{"class":"customer_no","value":"C-1"},{"class":"customer_no","value":"C-1","context":"t"}]}`)
	s := ta.post(t, "/v1/seal", "writer", `{"items":[{"class":"customer_no","value":"C-1"}]}`)
	if l.Status != http.StatusOK || s.Status != http.StatusOK {
		t.Fatalf("%s %s", l.Raw, s.Raw)
	}
	if string(l.Batch.Items[0].Value) != string(s.Batch.Items[0].Value) {
		t.Errorf("lookup %s differs from the sealed value %s", l.Batch.Items[0].Value, s.Batch.Items[0].Value)
	}
	if string(l.Batch.Items[0].Value) == string(l.Batch.Items[1].Value) {
		t.Errorf("the context does not change the lookup value")
	}
}

func TestAuditEventPerCall(t *testing.T) {
	ta := newTestAPI(t, nil)
	r := ta.post(t, "/v1/seal", "full", `{"items":[{"class":"email","value":"a@x"},{"class":"email","value":"fsm:x"},{"class":"phone","value":"1"}]}`)
	if r.Status != http.StatusOK {
		t.Fatal(string(r.Raw))
	}
	ev := <-ta.events
	want := audit.Event{Type: audit.TypeAPI, RequestID: r.Batch.RequestID, Caller: "full", Method: "POST", Operation: "seal",
		Items: 3, Outcome: audit.OutcomeDenied, Reason: "masked_value", Status: 200, KeyIDs: []uint32{1}}
	if ev.Type != want.Type || ev.RequestID != want.RequestID || ev.Caller != want.Caller || ev.Operation != want.Operation ||
		ev.Items != want.Items || ev.Outcome != want.Outcome || ev.Reason != want.Reason || ev.Status != want.Status ||
		fmt.Sprint(ev.KeyIDs) != fmt.Sprint(want.KeyIDs) {
		t.Errorf("event = %+v, want %+v", ev, want)
	}
	if fmt.Sprint(ev.Fields) != "map[email:2 phone:1]" || fmt.Sprint(ev.Errors) != "map[masked_value:1]" || ev.Actions["email"] != "seal" {
		t.Errorf("fields %v, errors %v, actions %v", ev.Fields, ev.Errors, ev.Actions)
	}
	ta.post(t, "/v1/open", "", `{"items":[{"class":"email","value":"a"}]}`)
	if ev := <-ta.events; ev.Outcome != audit.OutcomeUnauthenticated || ev.Reason != "missing" || ev.Status != 401 || ev.Operation != "open" {
		t.Errorf("unauthenticated call: event %+v", ev)
	}
	b, _ := json.Marshal(ev)
	if strings.Contains(string(b), "a@x") {
		t.Errorf("the event holds a value: %s", b)
	}
}

func TestCallErrors(t *testing.T) {
	ta := newTestAPI(t, func(o *Options) { o.MaxBodyBytes = 200; o.MaxItems = 2 })
	noKeys := newTestAPI(t, func(o *Options) { o.Keys = staticKeys{} })
	noAuth := newTestAPI(t, func(o *Options) { o.Authenticator = nil })
	item := `{"class":"email","value":"a@x"}`
	for _, tc := range []struct {
		name         string
		api          *testAPI
		method, path string
		ctype, token string
		body         string
		status       int
		code         string
	}{
		{"an unknown path is 404", ta, "POST", "/v1/nope", "application/json", "full", `{}`, 404, "not_found"},
		{"GET is 405", ta, "GET", "/v1/seal", "", "full", ``, 405, "method_not_allowed"},
		{"no keys is 503", noKeys, "POST", "/v1/seal", "application/json", "full", `{"items":[` + item + `]}`, 503, "keys_unavailable"},
		{"no token is 401", ta, "POST", "/v1/seal", "application/json", "", `{"items":[` + item + `]}`, 401, "unauthenticated"},
		{"an unknown token is 401", ta, "POST", "/v1/seal", "application/json", "bogus", `{"items":[` + item + `]}`, 401, "unauthenticated"},
		{"no authenticator refuses every call", noAuth, "POST", "/v1/seal", "application/json", "full", `{"items":[` + item + `]}`, 401, "unauthenticated"},
		{"a forbidden caller is 403", ta, "POST", "/v1/seal", "application/json", "refused", `{"items":[` + item + `]}`, 403, "forbidden"},
		{"a body that is not JSON is 415", ta, "POST", "/v1/seal", "text/plain", "full", `{"items":[` + item + `]}`, 415, "unsupported_media_type"},
		{"a body over the limit is 413", ta, "POST", "/v1/seal", "application/json", "full", `{"items":[` + strings.Repeat(" ", 200) + item + `]}`, 413, "body_too_large"},
		{"invalid JSON is 400", ta, "POST", "/v1/seal", "application/json", "full", `{"items":[`, 400, "invalid_json"},
		{"a body that is not a batch is 400", ta, "POST", "/v1/seal", "application/json", "full", `{"values":[]}`, 400, "invalid_request"},
		{"an empty batch is 400", ta, "POST", "/v1/seal", "application/json", "full", `{"items":[]}`, 400, "invalid_request"},
		{"too many items is 400", ta, "POST", "/v1/seal", "application/json", "full", `{"items":[` + item + `,` + item + `,` + item + `]}`, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.api.url+tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			req.Header.Set("X-Request-Id", "client-id-1")
			r := do(t, req)
			if r.Status != tc.status || r.Error.Code != tc.code || r.Error.RequestID != "client-id-1" || r.Header.Get("X-Request-Id") != "client-id-1" {
				t.Errorf("got %d %s (X-Request-Id %q), want %d %s", r.Status, r.Raw, r.Header.Get("X-Request-Id"), tc.status, tc.code)
			}
			if tc.status == 401 && r.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("401 without a Bearer challenge")
			}
			if tc.status == 405 && r.Header.Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
		})
	}
}

// TestSealedWritesFollowTheProxysRule: a value to seal that is already
// sealed is kept only for a caller that may send sealed values, and only if
// it opens for its class; an API without authentication keeps it only when
// guard.sealed_writes is accept.
func TestSealedWritesFollowTheProxysRule(t *testing.T) {
	ta := newTestAPI(t, nil)
	sealedEmail := str(t, ta.post(t, "/v1/seal", "full", `{"items":[{"class":"email","value":"a@x"}]}`).Batch.Items[0].Value)
	<-ta.events
	value := func(class string) string { return `{"class":"` + class + `","value":"` + sealedEmail + `"}` }
	doc := `{"fields":[{"path":"e","class":"email"}],"document":{"e":"` + sealedEmail + `"}}`

	r := ta.post(t, "/v1/seal", "replicator", `{"items":[`+value("email")+`,`+doc+`,`+value("phone")+`]}`)
	if r.Status != http.StatusOK || len(r.Batch.Items) != 3 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	if got := str(t, r.Batch.Items[0].Value); got != sealedEmail {
		t.Errorf("the replicator's sealed value = %s, want it kept as %s", got, sealedEmail)
	}
	if got := compact(t, r.Batch.Items[1].Document); got != `{"e":"`+sealedEmail+`"}` {
		t.Errorf("the replicator's document = %s, want it kept", got)
	}
	if e := r.Batch.Items[2].Error; e == nil || e.Code != "invalid_sealed_value" {
		t.Errorf("a sealed e-mail sent as a phone = %s, want invalid_sealed_value", r.Raw)
	}
	if ev := <-ta.events; ev.Outcome != audit.OutcomeRejected {
		t.Errorf("audit outcome %q, want %q", ev.Outcome, audit.OutcomeRejected)
	}

	for _, tc := range []struct {
		name   string
		writes fieldmap.SealedWrites
		want   string // "" keeps the value
	}{
		{"refuse (the default)", "", "sealed_value_refused"},
		{"accept", fieldmap.SealedWritesAccept, ""},
	} {
		t.Run("without authentication, guard.sealed_writes "+tc.name, func(t *testing.T) {
			anon := newTestAPI(t, func(o *Options) {
				o.Authenticator = Anonymous{}
				o.Routes = testMapWith(t, func(s *fieldmap.Spec) { s.Guard.SealedWrites = tc.writes })
				o.Keys = ta.keys
			})
			r := anon.post(t, "/v1/seal", "", `{"items":[`+value("email")+`]}`)
			if r.Status != http.StatusOK || len(r.Batch.Items) != 1 {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			it := r.Batch.Items[0]
			switch {
			case tc.want == "" && (it.Error != nil || str(t, it.Value) != sealedEmail):
				t.Errorf("got %s, want the sealed value kept", r.Raw)
			case tc.want != "" && (it.Error == nil || it.Error.Code != tc.want):
				t.Errorf("got %s, want %s", r.Raw, tc.want)
			}
		})
	}
}

// TestDocumentsSealClassMembers: a class's member names are sealed wherever
// they occur in a document, by route or by field list, as on the proxy.
func TestDocumentsSealClassMembers(t *testing.T) {
	ta := newTestAPI(t, func(o *Options) {
		o.Routes = testMapWith(t, func(s *fieldmap.Spec) { s.Classes[0].Keys = []string{"email"} })
	})
	r := ta.post(t, "/v1/seal", "full", `{"items":[
		{"fields":[{"path":"p","class":"phone"}],"document":{"p":"+1 555","contacts":[{"EMAIL":"a@x"}]}},
		{"route":"customers-list","document":[{"email":"b@x"}]}]}`)
	if r.Status != http.StatusOK || len(r.Batch.Items) != 2 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	for _, plain := range []string{"+1 555", "a@x", "b@x"} {
		if strings.Contains(string(r.Raw), plain) {
			t.Errorf("seal answer holds plaintext %q: %s", plain, r.Raw)
		}
	}
	o := ta.post(t, "/v1/open", "full", `{"items":[{"fields":[{"path":"p","class":"phone"}],"document":`+string(r.Batch.Items[0].Document)+`}]}`)
	if got := compact(t, o.Batch.Items[0].Document); got != `{"p":"+1 555","contacts":[{"EMAIL":"a@x"}]}` {
		t.Errorf("opened document = %s", got)
	}
}

// A value sealed whole that holds a class member opens back whole: the
// member inside is sealed under its class first, the value under its own.
func TestValueWithAMemberInsideRoundTrips(t *testing.T) {
	ta := newTestAPI(t, func(o *Options) {
		o.Routes = testMapWith(t, func(s *fieldmap.Spec) { s.Classes[0].Keys = []string{"email"} })
	})
	r := ta.post(t, "/v1/seal", "full", `{"items":[{"class":"phone","value":{"email":"a@x","n":1},"context":"c1"}]}`)
	if r.Status != http.StatusOK || strings.Contains(string(r.Raw), "a@x") {
		t.Fatalf("seal: %d %s", r.Status, r.Raw)
	}
	o := ta.post(t, "/v1/open", "full", `{"items":[{"class":"phone","value":`+string(r.Batch.Items[0].Value)+`,"context":"c1"}]}`)
	if o.Status != http.StatusOK || o.Batch.Items[0].Value == nil || compact(t, o.Batch.Items[0].Value) != `{"email":"a@x","n":1}` {
		t.Errorf("open: %d %s, want the value with its email", o.Status, o.Raw)
	}
}
