package testenv

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// promqlWords are PromQL's keywords, aggregations and functions that the
// alerts use, and anything else an identifier in an expression can be
// that is not a metric name.
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"sum": true, "min": true, "max": true, "avg": true, "count": true, "topk": true, "bottomk": true,
	"rate": true, "irate": true, "increase": true, "delta": true, "time": true, "clamp_min": true, "clamp_max": true,
	"histogram_quantile": true, "absent": true, "abs": true, "vector": true, "scalar": true,
	"max_over_time": true, "min_over_time": true, "avg_over_time": true,
}

// grouping are the modifiers followed by a list of label names.
var grouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	ranges     = regexp.MustCompile(`\[[0-9smhdwy:]+\]`)
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// PromQLMetricNames returns the metric names a PromQL expression reads,
// and an error when the expression is not well formed as far as a light
// check can tell (unbalanced brackets or quotes, an unknown function).
// It is no full parser: it is what a test needs to check that alerts
// name only metrics the operator exports.
func PromQLMetricNames(expr string) ([]string, error) {
	if strings.Count(expr, `"`)%2 != 0 {
		return nil, fmt.Errorf("unbalanced quotes in %q", expr)
	}
	// Label values go first, then range selectors.
	rest := ranges.ReplaceAllString(quoted.ReplaceAllString(expr, `""`), "")
	var depth []rune
	pairs := map[rune]rune{')': '(', '}': '{', ']': '['}
	for _, r := range rest {
		switch r {
		case '(', '{', '[':
			depth = append(depth, r)
		case ')', '}', ']':
			if len(depth) == 0 || depth[len(depth)-1] != pairs[r] {
				return nil, fmt.Errorf("unbalanced %q in %q", r, expr)
			}
			depth = depth[:len(depth)-1]
		}
	}
	if len(depth) > 0 {
		return nil, fmt.Errorf("unclosed %q in %q", depth[len(depth)-1], expr)
	}
	var names []string
	inLabels := 0
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '{':
			inLabels++
			continue
		case '}':
			inLabels--
			continue
		}
		loc := identifier.FindStringIndex(rest[i:])
		if loc == nil || loc[0] != 0 || (i > 0 && (isDigit(rest[i-1]) || rest[i-1] == '.')) {
			continue
		}
		word := rest[i : i+loc[1]]
		i += loc[1] - 1
		next := strings.TrimLeft(rest[i+1:], " \t\n")
		switch {
		case inLabels > 0: // a label name
		case grouping[word] && strings.HasPrefix(next, "("):
			// by (label, ...): label names, not metrics.
			i += strings.Index(rest[i:], ")")
		case strings.HasPrefix(next, "("):
			if !promqlWords[word] {
				return nil, fmt.Errorf("unknown function %s in %q", word, expr)
			}
		case promqlWords[word]:
		case strings.HasPrefix(next, "=") || strings.HasPrefix(next, "!="):
		default:
			if !slices.Contains(names, word) {
				names = append(names, word)
			}
		}
	}
	return names, nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
