package testenv

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestPromQLMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum(rate(a_total{outcome=~"x|y"}[5m])) / clamp_min(sum(rate(a_total[5m])), 1e-9) > 0.05`, []string{"a_total"}},
		{`time() - max(b_seconds > 0) > 3 * 3600`, []string{"b_seconds"}},
		{`min(c) == 0 or min(d) == 0`, []string{"c", "d"}},
		// Label names in by, on and group_left are not metrics.
		{`x / on (job) group_left (instance) y unless ignoring (le) z`, []string{"x", "y", "z"}},
		{`count without (pod) (p) > bool 1`, []string{"p"}},
		{`topk(3, sum by (namespace) (q))`, []string{"q"}},
		{`histogram_quantile(0.99, sum by (le) (rate(e_bucket{job="x"}[5m])))`, []string{"e_bucket"}},
		// The name given as a label, alone or with other matchers.
		{`{__name__="f"}`, []string{"f"}},
		{`rate({job="j", __name__="g_total"}[5m])`, []string{"g_total"}},
		// Offsets, @ and subqueries.
		{`h offset 1h - h @ 1700000000`, []string{"h"}},
		{`max_over_time(rate(i_total[5m] offset 10m)[1h:5m])`, []string{"i_total"}},
		// Label values, however they look, are not metrics.
		{`j{code=~"5..|<error>", path="k_total", le!="+Inf"}`, []string{"j"}},
		{`label_replace(l, "dst", "$1", "src", "(m_total)")`, []string{"l"}},
		{`vector(1) + scalar(n)`, []string{"n"}},
		{`time()`, []string{}},
	} {
		got, err := PromQLMetricNames(tc.expr)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q %v, want %q", tc.expr, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		`rate(x[5m]`,         // unclosed parenthesis
		`sum by (a) (x) x`,   // an identifier after the expression
		`frobnicate(x)`,      // an unknown function
		`rate(x)`,            // an instant vector where a range vector goes
		`a{b="c}`,            // an unclosed quote
		`sum(a})`,            // an unbalanced brace
		`x{__name__=~"y.*"}`, // the name twice
		`{__name__=~"y.*"}`,  // no literal name to check
		`sum(x) by (le) (y)`, // by after and before the argument
		``,
	} {
		if names, err := PromQLMetricNames(bad); err == nil {
			t.Errorf("%s: no error (names %q)", bad, names)
		} else if !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("%s: the error %q does not name the expression", bad, err)
		}
	}
}
