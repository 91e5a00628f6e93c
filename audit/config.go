package audit

import (
	"errors"
	"fmt"
	"os"
)

// Sinks.
const (
	SinkStdout = "stdout"
	SinkFile   = "file"
)

// Config is the `audit:` config section; the config package decodes it by
// its yaml tags and reports Check's problems at the section's line.
type Config struct {
	Sink string `yaml:"sink"` // stdout (default) | file
	File string `yaml:"file"` // required for sink: file
}

// Check validates the section.
func (c Config) Check() error {
	switch {
	case c.Sink == "" || c.Sink == SinkStdout:
		if c.File != "" {
			return fmt.Errorf("audit: file is set but sink is not %q", SinkFile)
		}
	case c.Sink == SinkFile:
		if c.File == "" {
			return errors.New("audit: sink file needs file")
		}
	default:
		return fmt.Errorf("audit: sink %q is not %q or %q", c.Sink, SinkStdout, SinkFile)
	}
	return nil
}

// OpenConfig opens the configured sink: the file (continuing its chain) or
// a new chain on stdout.
func OpenConfig(c Config, opts Options) (*Writer, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if c.Sink == SinkFile {
		return Open(c.File, opts)
	}
	return New(os.Stdout, opts)
}
