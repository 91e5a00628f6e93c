package rewrite

import "bytes"

// checkDepth returns ErrTooDeep when doc nests objects and arrays more than
// max levels deep, in one linear pass that allocates nothing; it is safe on
// any input. Apply's own pass bounds depth as it goes; checkDepth only runs
// on a document that pass refused as invalid, so that a document both
// invalid and too deep is reported as too deep, as it always was.
func checkDepth(doc []byte, max int) error {
	depth := 0
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case '"':
			i = stringEnd(doc, i)
		case '{', '[':
			depth++
			if depth > max {
				return ErrTooDeep
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the string opened at
// doc[open], or len(doc) when it is not closed. A quote is escaped when an
// odd number of backslashes precede it.
func stringEnd(doc []byte, open int) int {
	i := open + 1
	for {
		q := bytes.IndexByte(doc[i:], '"')
		if q < 0 {
			return len(doc)
		}
		i += q
		n := 0
		for j := i - 1; j > open && doc[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i
		}
		i++
	}
}
