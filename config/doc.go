// Package config loads fieldseal's YAML configuration.
//
// Load and Parse are strict: every key the schema does not know is an error,
// as is a value of the wrong shape. Defaults are applied to every key the
// file leaves out (see Reference for the full table), then everything the
// file alone can tell is validated. All problems are reported at once, joined
// with errors.Join, each as an *Error printed "FILE:LINE: message" the way a
// compiler reports. Field-map entries (classes, routes, their paths and
// fields) keep their YAML line so that fieldmap.Compile can report with lines
// too.
//
// Every key is declared once, as a Key constant in keys.go; Reference renders
// the key table that docs/config.md must equal. Adding a section means adding
// its Key constants and reference rows, a struct field on Config, a case in
// decodeRoot and a validation function.
package config
