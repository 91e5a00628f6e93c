package audit

import (
	"fmt"
	"os"
	"slices"

	"gopkg.in/yaml.v3"
)

// Sinks.
const (
	SinkStdout = "stdout"
	SinkFile   = "file"
)

// Config is the `audit:` config section, for the config package to embed.
type Config struct {
	Sink string `yaml:"sink"` // stdout (default) | file
	File string `yaml:"file"` // required for sink: file
	Line int    `yaml:"-"`
}

// UnmarshalYAML decodes strictly and records the line.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: audit must be a mapping", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains([]string{"sink", "file"}, k.Value) {
			return fmt.Errorf("line %d: unknown key %q in audit (allowed: sink, file)", k.Line, k.Value)
		}
	}
	type plain Config
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.Line = n.Line
	return nil
}

// Check validates the section.
func (c Config) Check() error {
	switch {
	case c.Sink == "" || c.Sink == SinkStdout:
		if c.File != "" {
			return fmt.Errorf("line %d: audit: file is set but sink is not %q", c.Line, SinkFile)
		}
	case c.Sink == SinkFile:
		if c.File == "" {
			return fmt.Errorf("line %d: audit: sink file needs file", c.Line)
		}
	default:
		return fmt.Errorf("line %d: audit: sink %q is not %q or %q", c.Line, c.Sink, SinkStdout, SinkFile)
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
