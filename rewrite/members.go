package rewrite

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// memberSet answers "is this object member name one of Spec.Members?" on
// the hot path: once per member of every object a plan scans.
type memberSet struct {
	names []string
	fold  bool
	// index maps each name (lowered when fold and ASCII) to its position.
	// Under folding an all-ASCII key is lowered into a stack buffer and
	// looked up here; any other key, and any key at all when some name is
	// not ASCII, is folded (foldKey) and compared with the folded names,
	// because non-ASCII runes fold onto ASCII ones (U+212A KELVIN SIGN onto
	// 'k', U+017F LATIN SMALL LETTER LONG S onto 's', U+0131 DOTLESS I onto
	// 'i'). foldKey is the one rule for member names and wildcard paths.
	index    map[string]int
	folded   []string // foldKey of each name, when fold
	nonASCII bool     // some name is not all ASCII
}

// maxASCIIKey is the longest key lowered on the stack; longer keys take the
// EqualFold loop.
const maxASCIIKey = 64

func newMemberSet(names []string, fold bool) (memberSet, error) {
	m := memberSet{fold: fold, index: make(map[string]int, len(names))}
	var errs []error
	for _, n := range names {
		if n == "" {
			errs = append(errs, errors.New("rewrite member: name is empty"))
			continue
		}
		if j := m.lookup(n); j >= 0 {
			errs = append(errs, fmt.Errorf("rewrite member %q: same member as %q", n, m.names[j]))
			continue
		}
		k := n
		if fold && isASCII(n) {
			k = strings.ToLower(n)
		}
		m.index[k] = len(m.names)
		m.names = append(m.names, n)
		if fold {
			m.folded = append(m.folded, foldKey(n))
		}
		m.nonASCII = m.nonASCII || !isASCII(n)
	}
	if len(errs) > 0 {
		return memberSet{}, errors.Join(errs...)
	}
	return m, nil
}

func (m *memberSet) len() int { return len(m.names) }

// lookup returns the position of key in the set, or -1.
func (m *memberSet) lookup(key string) int {
	if len(m.names) == 0 {
		return -1
	}
	if !m.fold {
		if i, ok := m.index[key]; ok {
			return i
		}
		return -1
	}
	if len(key) <= maxASCIIKey && isASCII(key) {
		var buf [maxASCIIKey]byte
		b := buf[:len(key)]
		for i := 0; i < len(key); i++ {
			c := key[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if i, ok := m.index[string(b)]; ok { // a map index by converted bytes does not allocate
			return i
		}
		if !m.nonASCII {
			return -1
		}
	}
	fk := foldKey(key)
	for i, n := range m.folded {
		if n == fk {
			return i
		}
	}
	return -1
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
