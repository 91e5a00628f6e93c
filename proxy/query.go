package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/fieldseal/fieldseal/crypto"
	"github.com/fieldseal/fieldseal/fieldmap"
	"github.com/fieldseal/fieldseal/rewrite"
	"github.com/fieldseal/fieldseal/transform"
)

// sealQuery seals the route's protected query parameters (Route.Query) in
// r.URL.RawQuery before the request is forwarded, so that an equality
// lookup (GET /customers?email=..) reaches the application as the sealed
// value it stored, and the plaintext reaches neither it nor its access
// logs. Parameters are read as form fields are (email[], filter[email]
// stand for email; '&' and ';' separate them), every other byte of the
// query is kept. A caller may look up a class unless its action for it is
// deny.
//
// What it does is counted in st (nil: not counted). With again the query
// was sealed under another route of the request first (sealQueryAlso): a
// value already sealed is kept when it opens for the parameter this route
// names (transform.Params.AcceptSealed), and only what this pass did is
// counted (transform.Stats.MergeSecondPass).
func (p *Proxy) sealQuery(r *http.Request, route *fieldmap.Route, st *transform.Stats, ring *crypto.Keyring, caller Caller, aadContext string, again bool) error {
	if (route.Query == nil && len(route.QueryFilters) == 0) || r.URL.RawQuery == "" {
		return nil
	}
	// A second pass counts apart: what it keeps, the first pass counted.
	if again {
		var own transform.Stats
		defer st.MergeSecondPass(&own)
		st = &own
	}
	params := func(side *fieldmap.Side) transform.Params {
		return transform.Params{Ring: ring, Side: side, Caller: lookupCaller{caller}, Context: aadContext, Masker: p.masker, Stats: st, AcceptSealed: again}
	}
	if route.Query != nil {
		out, err := transform.New(params(route.Query)).SealForm(nil, []byte(r.URL.RawQuery))
		if err != nil {
			var fe *transform.FieldError
			if errors.As(err, &fe) {
				return err
			}
			return fmt.Errorf("seal query parameters: %w", err)
		}
		r.URL.RawQuery = string(out)
	}
	if len(route.QueryFilters) > 0 {
		raw, err := sealFilters(r.URL.RawQuery, route.QueryFilters, transform.New(params(route.FilterSide)))
		if err != nil {
			return err
		}
		r.URL.RawQuery = raw
	}
	return nil
}

// sealFilters seals, in every filter parameter of raw (a query string), the
// literals its member is compared with (sealComparisons). Parameter names
// are read as frameworks read form names (rewrite.FormNames: "[filter]",
// "filter[]", PHP's " filter" and "filter\x00x") and compared
// case-insensitively, so that more is sealed rather than less.
func sealFilters(raw string, filters []fieldmap.QueryFilter, t *transform.Transform) (string, error) {
	pairs := strings.Split(raw, "&")
	for i, pair := range pairs {
		key, val, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			continue // no application reads it as a filter either
		}
		changed := false
		var expr string
		for _, f := range filters {
			if !readsAs(name, f.Param) {
				continue
			}
			if !changed {
				if expr, err = url.QueryUnescape(val); err != nil {
					return "", fmt.Errorf("query parameter %q: %w: %w", f.Param, ErrInvalidQuery, err)
				}
			}
			if expr, err = sealComparisons(expr, f, t); err != nil {
				return "", err
			}
			changed = true
		}
		if changed {
			pairs[i] = key + "=" + url.QueryEscape(expr)
		}
	}
	return strings.Join(pairs, "&"), nil
}

// readsAs reports whether a parameter named name is param to some
// framework (rewrite.FormNames), compared case-insensitively.
func readsAs(name, param string) bool {
	found := false
	rewrite.FormNames(name, func(n string) bool {
		found = strings.EqualFold(n, param)
		return !found
	})
	return found
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '.' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// filterOperators are the comparisons whose literal is sealed: equality
// and inequality as filter languages write them (PocketBase, OData, Lucene
// field:value, SQL-like). Words are matched case-insensitively and must be
// followed by a space.
var filterOperators = []string{"==", "!=", "<>", "=", ":", "eq ", "ne "}

// sealComparisons returns expr with every literal that f's member is
// compared with sealed: member, an operator of filterOperators, and a
// literal in single or double quotes (a quote inside doubled). Text inside literals is skipped. A mention of the
// member in any other form (another operator, a list, an unquoted value,
// the literal first) wraps ErrInvalidQuery: fieldseal cannot tell what
// the application would compare, so it refuses rather than forward the
// value in plaintext.
func sealComparisons(expr string, f fieldmap.QueryFilter, t *transform.Transform) (string, error) {
	var b strings.Builder
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '\'' || c == '"' || isIdentByte(c):
			// An identifier, or a quoted string: a literal, or in double
			// quotes a member name as SQL writes one ("email" = '...').
			var j int
			var name string
			if isIdentByte(c) {
				j = i
				for j < len(expr) && isIdentByte(expr[j]) {
					j++
				}
				name = expr[i:j]
			} else {
				end, value, err := literal(expr, i)
				if err != nil {
					return "", fmt.Errorf("query parameter %q: %w", f.Param, err)
				}
				j = end
				if c == '"' {
					name = value
				}
			}
			b.WriteString(expr[i:j])
			i = j
			if name == "" || !strings.EqualFold(name, f.Member) {
				continue
			}
			k := skipSpace(expr, i)
			op := ""
			for _, o := range filterOperators {
				if len(expr)-k >= len(o) && strings.EqualFold(expr[k:k+len(o)], o) {
					op = o
					break
				}
			}
			if op == "" && c == '"' {
				continue // a string equal to the member's name, not its name
			}
			lit := skipSpace(expr, k+len(op))
			if op == "" || lit >= len(expr) || (expr[lit] != '\'' && expr[lit] != '"') {
				return "", fmt.Errorf("query parameter %q: %s is compared in a form fieldseal cannot seal (write %s = 'value', != or eq): %w", f.Param, f.Member, f.Member, ErrInvalidQuery)
			}
			end, value, err := literal(expr, lit)
			if err != nil {
				return "", fmt.Errorf("query parameter %q: %w", f.Param, err)
			}
			sealed, err := sealLiteral(t, f.Member, value)
			if err != nil {
				return "", err
			}
			q := expr[lit]
			b.WriteString(expr[i:lit])
			b.WriteByte(q)
			b.WriteString(sealed)
			b.WriteByte(q)
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// literal reads the quoted literal starting at expr[start] (its quote) and
// returns the index after it and its content, a quote inside being written
// doubled. A backslash is refused: filter languages disagree on whether it
// escapes the quote, so the literal's end would be read two ways.
func literal(expr string, start int) (end int, value string, err error) {
	q := expr[start]
	var v strings.Builder
	for i := start + 1; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '\\':
			return 0, "", fmt.Errorf("a literal holds a backslash, which filter languages read differently: %w", ErrInvalidQuery)
		case c == q && i+1 < len(expr) && expr[i+1] == q:
			i++
			v.WriteByte(q)
		case c == q:
			return i + 1, v.String(), nil
		default:
			v.WriteByte(c)
		}
	}
	return 0, "", fmt.Errorf("a literal is not closed: %w", ErrInvalidQuery)
}

// sealLiteral seals value as the string of member, through the same
// transform as a body's member (policy, empty values, sealed values).
func sealLiteral(t *transform.Transform, member, value string) (string, error) {
	doc := append([]byte{'{'}, rewrite.AppendString(nil, []byte(member))...)
	doc = append(doc, ':')
	doc = rewrite.AppendString(doc, []byte(value))
	doc = append(doc, '}')
	out, err := t.Seal(nil, doc)
	if err != nil {
		return "", err
	}
	sealed := ""
	gjson.ParseBytes(out).ForEach(func(_, v gjson.Result) bool {
		sealed = v.Str
		return false
	})
	return sealed, nil
}

// lookupCaller is a caller looking values up: sealing a query parameter
// writes nothing, so it needs only an action other than deny.
type lookupCaller struct{ Caller }

func (c lookupCaller) MayWrite(class string) bool { return c.Action(class) != transform.ActionDeny }
