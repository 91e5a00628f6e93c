package jsonerror

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	t.Run("a 401 carries the body, the headers and a Bearer challenge", func(t *testing.T) {
		rec := httptest.NewRecorder()
		Write(rec, http.StatusUnauthorized, "unauthenticated", `token "x" <bad>`, "req-1")
		want := `{"error":{"code":"unauthenticated","message":"token \"x\" <bad>","request_id":"req-1"}}` + "\n"
		if got := rec.Body.String(); got != want {
			t.Errorf("body = %s, want %s", got, want)
		}
		for k, v := range map[string]string{
			"Content-Type": "application/json; charset=utf-8", "Content-Length": "88",
			"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Www-Authenticate": "Bearer",
		} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		var e map[string]map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"]["message"] != `token "x" <bad>` {
			t.Errorf("body does not decode as the error shape: %v %v", e, err)
		}
	})
	t.Run("other statuses carry no challenge", func(t *testing.T) {
		rec := httptest.NewRecorder()
		Write(rec, http.StatusForbidden, "forbidden", "no", "")
		if rec.Code != http.StatusForbidden || rec.Header().Get("WWW-Authenticate") != "" {
			t.Errorf("status %d, WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	})
}
