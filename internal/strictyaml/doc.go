// Package strictyaml decodes one YAML document into Go structs the way a
// compiler reads source: strictly, and reporting every problem at once with
// its line.
//
// The target's shape is read from its `yaml:"name"` struct tags by
// reflection, so a key is declared once, on the field that holds it. A key
// no tag names is an error, as is a repeated key or a value of the wrong
// shape; each problem is a *lineerr.Error, all of them joined with
// errors.Join. Decoding goes on after a problem, so one run lists them all;
// a field whose value was refused keeps what it held (its default).
//
// Beyond yaml.v3's tags it understands:
//
//   - a field `Line int` without a yaml name receives the line of the node
//     its struct was decoded from (of the key, for map entries);
//   - `yaml:",inline"` on an embedded struct merges its keys into the parent;
//   - a slice of structs with a `yaml:",key"` field is written as a mapping:
//     each entry is one element, the key goes to that field, and the value
//     either fills a `yaml:",value"` field or, without one, the other fields;
//   - a struct with a `yaml:",seq"` field may be written as a list, which
//     fills that field;
//   - a type implementing encoding.TextUnmarshaler may be written as a
//     scalar (a struct with tagged fields may still be written as a
//     mapping); its error is reported at the scalar's line;
//   - time.Duration is written in Go syntax (30s, 1m, 1h30m) or in whole
//     days (90d); ParseDuration parses it.
//
// Decode also records the line of every key and list entry under its path
// ("limits.max_body_bytes", "routes[0].methods[1]", "classes.email"), so
// that checks made after decoding can point at the right line.
package strictyaml
