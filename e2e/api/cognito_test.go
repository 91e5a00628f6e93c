package apie2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldseal/fieldseal/internal/motoserver"
	"github.com/fieldseal/fieldseal/internal/sidecartest"
)

// TestCognitoSystemAccountCallsTheAPI is the scenario: a new
// service signs its system account in to Amazon Cognito (the moto emulator
// .ci/run provisions) and calls the API with its access token; only the
// caller its app client and group make it gets results.
func TestCognitoSystemAccountCallsTheAPI(t *testing.T) {
	pool := motoserver.RequireCognitoPool(t)
	store := sidecartest.NewStore(t, sidecartest.GoJSON)
	authYAML := sidecartest.AuthYAML(pool.Issuer, pool.JWKSURL, pool.ClientID)
	pol := fmt.Sprintf(`
policies:
  callers:
    - id: billing
      match: {client_ids: [%s], groups: [%s]}
      actions: {email: decrypt, phone: mask, customer_no: sealed}
`, pool.ClientID, pool.Group)
	s := sidecartest.Start(t, bin, sidecartest.Config{Upstream: store.URL(), FieldMap: fieldMap + authYAML + pol, API: &sidecartest.API{}})
	access, idToken := pool.SignIn(t)

	status, sealed, raw := call(t, s, "seal", access, fmt.Sprintf(`{"items":[{"class":"email","value":%q},{"class":"phone","value":%q}]}`, janeEmail, janePhone))
	if status != http.StatusOK || len(sealed.Items) != 2 || sealed.Items[0].Error != nil || strings.Contains(string(raw), janeEmail) {
		t.Fatalf("seal with a Cognito access token: %d %s", status, raw)
	}
	status, opened, raw := call(t, s, "open", access, fmt.Sprintf(`{"items":[{"class":"email","value":%s},{"class":"phone","value":%s}]}`,
		sealed.Items[0].Value, sealed.Items[1].Value))
	if status != http.StatusOK || str(t, opened.Items[0].Value) != janeEmail || !strings.HasPrefix(str(t, opened.Items[1].Value), "fsm:") {
		t.Errorf("open as the billing system account: %d %s", status, raw)
	}
	if status, a, raw := call(t, s, "open", idToken, `{"items":[{"class":"email","value":"x"}]}`); status != http.StatusUnauthorized ||
		a.Error == nil || !strings.HasSuffix(a.Error.Message, "wrong_token_use") {
		t.Errorf("a Cognito ID token: %d %s", status, raw)
	}
	lines := s.AuditLines(t, `"type":"api","request_id":"`+opened.RequestID+`","caller":"billing"`)
	for _, l := range lines {
		if strings.Contains(l, janeEmail) || strings.Contains(l, access) || strings.Contains(l, pool.Username) {
			t.Errorf("the audit trail holds a value, token or user name: %s", l)
		}
	}
}
