package auth

import (
	"fmt"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the `auth:` config section, for the config package to embed.
// Unknown keys are errors; Line is the section's YAML line.
type Config struct {
	Issuer                 string        `yaml:"issuer"`
	JWKSURL                string        `yaml:"jwks_url"`
	ClientIDs              []string      `yaml:"client_ids"`
	Audiences              []string      `yaml:"audiences"`
	TokenUse               string        `yaml:"token_use"`
	Algorithms             []string      `yaml:"algorithms"`
	Leeway                 time.Duration `yaml:"leeway"`
	JWKSRefreshInterval    time.Duration `yaml:"jwks_refresh_interval"`
	JWKSUnknownKIDInterval time.Duration `yaml:"jwks_unknown_kid_interval"`
	JWKSTimeout            time.Duration `yaml:"jwks_timeout"`
	Line                   int           `yaml:"-"`
}

// configKeys are the keys Config accepts.
var configKeys = []string{"issuer", "jwks_url", "client_ids", "audiences", "token_use", "algorithms",
	"leeway", "jwks_refresh_interval", "jwks_unknown_kid_interval", "jwks_timeout"}

// UnmarshalYAML decodes strictly and records the line.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: auth must be a mapping", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(configKeys, k.Value) {
			return fmt.Errorf("line %d: unknown key %q in auth (allowed: %v)", k.Line, k.Value, configKeys)
		}
	}
	type plain Config
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.Line = n.Line
	return nil
}

// Options returns the verifier options for this section; the caller adds
// Registerer, Logger and Transport. Validate them with Check.
func (c Config) Options() Options {
	return Options{
		Issuer:             c.Issuer,
		JWKSURL:            c.JWKSURL,
		Audiences:          c.Audiences,
		ClientIDs:          c.ClientIDs,
		TokenUse:           c.TokenUse,
		Algorithms:         c.Algorithms,
		Leeway:             c.Leeway,
		RefreshInterval:    c.JWKSRefreshInterval,
		UnknownKIDInterval: c.JWKSUnknownKIDInterval,
		HTTPTimeout:        c.JWKSTimeout,
	}
}

// Check validates the section without fetching anything (for `config check`
// and start-up validation); each problem is prefixed with the section's line.
func (c Config) Check() error {
	if _, err := c.Options().withDefaults(); err != nil {
		return fmt.Errorf("line %d: auth: %w", c.Line, err)
	}
	return nil
}
