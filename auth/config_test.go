package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldseal/fieldseal/internal/strictyaml"
)

// authDoc is a YAML document holding only an auth: section.
type authDoc struct {
	Auth Options `yaml:"auth"`
}

func TestOptionsFromYAML(t *testing.T) {
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
		var root authDoc
		if _, err := strictyaml.Decode([]byte(doc), "a.yaml", &root); err != nil {
			t.Fatal(err)
		}
		o := root.Auth
		if o.Issuer == "" || o.ClientIDs[0] != "abc" || o.Leeway != 10*time.Second || o.UnknownKIDInterval != 2*time.Minute {
			t.Fatalf("options = %+v", o)
		}
		if err := o.Check(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unknown keys are refused with their line", func(t *testing.T) {
		var root authDoc
		_, err := strictyaml.Decode([]byte("auth:\n  issuer: x\n  audience: [a]\n"), "a.yaml", &root)
		if err == nil || !strings.Contains(err.Error(), `a.yaml:3: unknown key "audience"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the process's fields are no keys", func(t *testing.T) {
		var root authDoc
		_, err := strictyaml.Decode([]byte("auth:\n  transport: x\n  Logger: y\n"), "a.yaml", &root)
		if err == nil || strings.Count(err.Error(), "unknown key") != 2 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("check reports every problem", func(t *testing.T) {
		err := Options{Algorithms: []string{"HS256"}}.Check()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "issuer is required") || !strings.Contains(err.Error(), `"HS256" is not allowed`) {
			t.Fatalf("err = %v", err)
		}
	})
}
