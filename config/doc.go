// Package config loads fieldseal's YAML configuration. Only cmd/ imports it:
// the commands hand each package its own options, built in one place
// (cmd/fieldseal/options.go).
//
// Load and Parse are strict: the configuration is decoded by
// internal/strictyaml against the yaml tags of Config and of the spec types
// it holds (fieldmap.ClassSpec and RouteSpec, auth.Options, policy.Spec,
// audit.Config, mask.Spec), so a key is declared once, on the field that
// holds it, and every key no tag names is an error, as is a value of the
// wrong shape. Defaults are applied to every key the file leaves out (see
// Reference for the full table), then everything the file alone can tell is
// validated here, including the sections other packages check (auth,
// policies, masks, audit). All problems are reported at once, joined with
// errors.Join, each as a *lineerr.Error printed "FILE:LINE: message" the way
// a compiler reports. Field-map entries keep their YAML line so that
// fieldmap.Compile(cfg.FieldMap()) reports with lines too.
//
// Reference renders the key table that docs/config.md must equal; each
// key's meaning is written once, in its row in keys.go, and a test checks
// the rows against the keys the decoder accepts. Adding a key means adding
// a tagged struct field, its reference row and, where needed, a check in
// validate.go.
package config
