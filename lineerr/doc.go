// Package lineerr is the one error type for problems found at a line of a
// configuration file: the strict YAML decoder, the config validator,
// fieldmap.Compile, policy.Compile and mask.Compile all report with it, so a
// caller lists every problem the way a compiler does ("FILE:LINE: message")
// and orders them with errors.As.
//
// It is a package of its own, depending on the standard library only, so
// that fieldmap (which must know nothing of config, YAML or keys) and config
// (which imports fieldmap) can share it without an import cycle.
package lineerr
