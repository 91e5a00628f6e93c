package fieldmap

// Spec is a field map as configured: the classes and the protected routes,
// each entry with the line it was written at. Its yaml tags are the
// configuration keys (the config package decodes them); Compile checks a
// Spec and builds a Map.
type Spec struct {
	// File is the name problems are reported under (with the Line fields).
	File    string      `yaml:"-"`
	Classes []ClassSpec `yaml:"classes"` // in file order
	Routes  []RouteSpec `yaml:"routes"`  // in file order
}

// Mode is a class's encryption mode.
type Mode string

const (
	// ModeRandom seals with a random nonce: equal plaintexts look different.
	// An empty Mode means ModeRandom.
	ModeRandom Mode = "random"
	// ModeDeterministic seals equal plaintexts (under one key) to equal
	// ciphertexts, so the application can look them up; it leaks equality.
	ModeDeterministic Mode = "deterministic"
)

// ClassSpec is a field class as configured. In YAML the classes are a
// mapping from name to settings.
type ClassSpec struct {
	Name string `yaml:",key"`
	Mode Mode   `yaml:"mode"`
	// SealEmpty seals null and "" like any other value. Off (the default),
	// they are left as they are in both directions: an app's "required"
	// check still sees the empty value, and the store reveals which records
	// have none (Class.SealEmpty).
	SealEmpty bool `yaml:"seal_empty"`
	// Operators makes a value that is an operator object ({"$eq": v},
	// {"$in": [..]}: every member name starts with "$") have its operands
	// sealed instead of the object, so query documents and records map at
	// once (Class.Operators). It needs ModeDeterministic.
	Operators bool `yaml:"operators"`
	Line      int
}

// RouteSpec is a protected route as configured.
type RouteSpec struct {
	Name     string      `yaml:"name"`
	Methods  []string    `yaml:"methods"`
	Paths    []PathSpec  `yaml:"paths"`
	Request  []FieldSpec `yaml:"request"`  // sealed in request bodies
	Response []FieldSpec `yaml:"response"` // opened in response bodies
	Context  ContextSpec `yaml:"context"`
	Line     int
}

// ContextSpec binds a route's sealed values to a request context.
type ContextSpec struct {
	// Header is the request header bound into the AAD; empty for none.
	Header string `yaml:"header"`
}

// PathSpec is one URL path pattern of a route; in YAML it is a string.
type PathSpec struct {
	Pattern string
	Line    int
}

// UnmarshalText sets the pattern; it is checked by Compile.
func (p *PathSpec) UnmarshalText(text []byte) error {
	p.Pattern = string(text)
	return nil
}

// FieldSpec is one protected value of a body: a gjson path and its class.
type FieldSpec struct {
	Path  string `yaml:"path"`
	Class string `yaml:"class"`
	Line  int
}
