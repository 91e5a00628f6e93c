package proxy

import (
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/fieldmap"
)

// pathGuard closes a parser differential on the write path. JSON allows the
// same key twice ({"email":"a","email":"b"}) and keys spelled with escapes
// ("em\u0061il"); apps disagree on which duplicate wins, and a matcher that
// compares raw key bytes misses escaped spellings. Either way a plaintext
// value could reach the upstream under a protected name.
//
// The guard walks the document once, by decoded keys, and counts every value
// a protected path addresses (duplicates included). The seal pass counts the
// values it actually rewrote; if the two differ the request is refused. Paths
// with wildcards or gjson escapes are not counted (their match set is the
// rewrite package's to define).
type pathGuard struct {
	roots     []*guardNode
	countable []bool // per field index: the path is counted
}

type guardNode struct {
	key      string // object key, or "#" for every array element
	index    int    // array index when key is all digits, else -1
	children []*guardNode
	leaves   int // paths ending here
}

func newPathGuard(fields []fieldmap.Field) *pathGuard {
	g := &pathGuard{countable: make([]bool, len(fields))}
	for i, f := range fields {
		if strings.ContainsAny(f.Path, `*?\|@!=<>%`) || f.Path == "" || f.Path == "#" || strings.HasSuffix(f.Path, ".#") {
			continue
		}
		g.countable[i] = true
		nodes := &g.roots
		var n *guardNode
		for _, k := range strings.Split(f.Path, ".") {
			n = nil
			for _, c := range *nodes {
				if c.key == k {
					n = c
					break
				}
			}
			if n == nil {
				n = &guardNode{key: k, index: -1}
				if idx, err := strconv.Atoi(k); err == nil && idx >= 0 {
					n.index = idx
				}
				*nodes = append(*nodes, n)
			}
			nodes = &n.children
		}
		n.leaves++
	}
	return g
}

// count returns how many values the counted paths address in doc (a valid
// JSON document).
func (g *pathGuard) count(doc []byte) int {
	if len(g.roots) == 0 {
		return 0
	}
	return countNodes(gjson.ParseBytes(doc), g.roots)
}

func countNodes(v gjson.Result, nodes []*guardNode) int {
	n := 0
	switch {
	case v.IsObject():
		v.ForEach(func(key, val gjson.Result) bool {
			for _, c := range nodes {
				if c.key == key.Str {
					n += c.leaves + countNodes(val, c.children)
				}
			}
			return true
		})
	case v.IsArray():
		for _, c := range nodes {
			if c.key != "#" && c.index < 0 {
				continue
			}
			i := 0
			v.ForEach(func(_, val gjson.Result) bool {
				if c.key == "#" || i == c.index {
					n += c.leaves + countNodes(val, c.children)
				}
				i++
				return c.key == "#" || i <= c.index
			})
		}
	}
	return n
}

// routeTable is the field map in use plus the guards built for its sides.
// A reload swaps the whole table, so guards never outlive their map.
type routeTable struct {
	m      *fieldmap.Map
	guards sync.Map // *fieldmap.Side -> *pathGuard
}

func (rt *routeTable) guard(s *fieldmap.Side) *pathGuard {
	if g, ok := rt.guards.Load(s); ok {
		return g.(*pathGuard)
	}
	g, _ := rt.guards.LoadOrStore(s, newPathGuard(s.Fields))
	return g.(*pathGuard)
}
