package strictyaml

import (
	"slices"
	"strings"
)

// nearest returns the name in known closest to name by Levenshtein distance
// (case-insensitive), if that distance is small enough to be a typo: at most
// 2 edits, and at most half of name's length, so that a short name is not
// "corrected" into an unrelated one. Ties go to the alphabetically first name, so the
// suggestion does not depend on map order.
func nearest(name string, known []string) (string, bool) {
	sorted := slices.Clone(known)
	slices.Sort(sorted)
	best, bestDist := "", -1
	for _, k := range sorted {
		d := levenshtein(strings.ToLower(name), strings.ToLower(k))
		if bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	limit := min(2, len([]rune(name))/2)
	if bestDist < 0 || bestDist > limit {
		return "", false
	}
	return best, true
}

// levenshtein is the edit distance between a and b (insertions, deletions
// and substitutions of runes, each costing 1).
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
