package mask

import (
	"errors"
	"fmt"
	"slices"

	"github.com/fieldseal/fieldseal/lineerr"
)

// Set holds the compiled mask of every class. Classes without a configured
// mask use Full. A Set is immutable and safe for concurrent use.
type Set struct {
	masks map[string]*Mask
}

// NewSet compiles one Spec per class and reports every invalid one.
func NewSet(specs map[string]Spec) (*Set, error) {
	s := &Set{masks: make(map[string]*Mask, len(specs))}
	var errs []error
	classes := make([]string, 0, len(specs))
	for c := range specs {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	for _, c := range classes {
		m, err := Compile(specs[c])
		if err != nil {
			if me, ok := err.(*lineerr.Error); ok {
				e := *me
				e.Msg = fmt.Sprintf("class %q: %s", c, me.Msg)
				err = &e
			}
			errs = append(errs, err)
			continue
		}
		s.masks[c] = m
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// For returns class's mask, or Full.
func (s *Set) For(class string) *Mask {
	if s != nil {
		if m, ok := s.masks[class]; ok {
			return m
		}
	}
	return Full
}

// Mask masks plaintext with class's mask; see Mask.String.
func (s *Set) Mask(class string, plaintext []byte, isString bool) string {
	return s.For(class).String(plaintext, isString)
}
