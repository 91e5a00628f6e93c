package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfig(t *testing.T) {
	t.Run("a full section decodes into options", func(t *testing.T) {
		doc := `
auth:
  issuer: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC
  client_ids: [abc]
  token_use: access
  algorithms: [RS256, ES256]
  leeway: 10s
  jwks_unknown_kid_interval: 2m
`
		var root struct {
			Auth Config `yaml:"auth"`
		}
		if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
			t.Fatal(err)
		}
		o := root.Auth.Options()
		if o.Issuer == "" || o.ClientIDs[0] != "abc" || o.Leeway != 10*time.Second || o.UnknownKIDInterval != 2*time.Minute || root.Auth.Line != 3 {
			t.Fatalf("options = %+v (line %d)", o, root.Auth.Line)
		}
		if err := root.Auth.Check(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unknown keys are refused with their line", func(t *testing.T) {
		var root struct {
			Auth Config `yaml:"auth"`
		}
		err := yaml.Unmarshal([]byte("auth:\n  issuer: x\n  audience: [a]\n"), &root)
		if err == nil || !strings.Contains(err.Error(), `line 3: unknown key "audience"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("check reports every problem with the section line", func(t *testing.T) {
		err := Config{Algorithms: []string{"HS256"}, Line: 7}.Check()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "line 7: auth:") ||
			!strings.Contains(err.Error(), "issuer is required") || !strings.Contains(err.Error(), `"HS256" is not allowed`) {
			t.Fatalf("err = %v", err)
		}
	})
}
