package config

import (
	"errors"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/fieldseal/fieldseal/audit"
	"github.com/fieldseal/fieldseal/auth"
	"github.com/fieldseal/fieldseal/mask"
	"github.com/fieldseal/fieldseal/policy"
)

// The auth:, policies: and audit: sections and classes.<name>.mask are
// declared by the packages that use them (auth.Config, policy.Spec,
// audit.Config, mask.Spec), each strict and carrying its YAML line; this file
// decodes them into Config and checks them with the rest of the file, so
// every problem is still reported at once as FILE:LINE.

// section decodes the YAML node v into dst (a section type with its own
// strict UnmarshalYAML) and reports its problems at their lines.
func (d *decoder) section(v *yaml.Node, dst any) bool {
	if err := v.Decode(dst); err != nil {
		d.lineErrors(v.Line, err)
		return false
	}
	return true
}

// lineMsg matches the "line N: message" form that yaml.v3 and the section
// packages use.
var lineMsg = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// lineErrors reports err, split into its joined problems, each at the line
// it names (a *policy.Error, *mask.Error, yaml.TypeError entry or a
// "line N: …" message), else at fallback.
func (d *decoder) lineErrors(fallback int, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			d.lineErrors(fallback, e)
		}
		return
	}
	var pe *policy.Error
	var me *mask.Error
	var te *yaml.TypeError
	switch {
	case errors.As(err, &pe) && pe.Line > 0:
		d.errorf(pe.Line, "%s", pe.Msg)
	case errors.As(err, &me) && me.Line > 0:
		d.errorf(me.Line, "%s", me.Msg)
	case errors.As(err, &te):
		for _, msg := range te.Errors {
			d.lineMessage(fallback, msg)
		}
	default:
		d.lineMessage(fallback, err.Error())
	}
}

func (d *decoder) lineMessage(fallback int, msg string) {
	if m := lineMsg.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			d.errorf(n, "%s", m[2])
			return
		}
	}
	d.errorf(fallback, "%s", msg)
}

// validateSections checks the caller, masking and audit sections against
// each other and against the classes.
func (d *decoder) validateSections(cfg *Config) {
	if cfg.Auth != nil {
		if err := cfg.Auth.Check(); err != nil {
			d.lineErrors(d.line(KeyAuth), err)
		}
	}
	if cfg.Policies != nil {
		if cfg.Auth == nil {
			d.errorf(d.line(KeyPolicies), "%s needs an %s section: callers are matched on verified tokens", KeyPolicies, KeyAuth)
		}
		if _, err := policy.Compile(*cfg.Policies, cfg.ClassNames()); err != nil {
			d.lineErrors(d.line(KeyPolicies), err)
		}
	}
	if _, err := mask.NewSet(cfg.Masks()); err != nil {
		d.lineErrors(d.line(KeyClasses), err)
	}
	if cfg.Audit != nil {
		if err := cfg.Audit.Check(); err != nil {
			d.lineErrors(d.line(KeyAudit), err)
		}
	}
}

// ClassNames returns the configured class names in file order.
func (c *Config) ClassNames() []string {
	names := make([]string, len(c.Classes))
	for i, cl := range c.Classes {
		names[i] = cl.Name
	}
	return names
}

// Masks returns the mask spec of every class that configures one.
func (c *Config) Masks() map[string]mask.Spec {
	m := map[string]mask.Spec{}
	for _, cl := range c.Classes {
		if cl.Mask != nil {
			m[cl.Name] = *cl.Mask
		}
	}
	return m
}

// Compile-time checks that the section types are what Config embeds.
var (
	_ = (*auth.Config)(nil)
	_ = (*audit.Config)(nil)
)
