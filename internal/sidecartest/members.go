package sidecartest

// EachMember calls fn with the name and value of every object member in v,
// a document decoded by encoding/json into any, at any depth: inside
// objects and arrays, parents before their children. Tests use it to check
// that every member of a class was sealed wherever it stands.
func EachMember(v any, fn func(name string, value any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			fn(k, e)
			EachMember(e, fn)
		}
	case []any:
		for _, e := range v {
			EachMember(e, fn)
		}
	}
}
