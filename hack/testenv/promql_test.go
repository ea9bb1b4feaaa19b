package testenv

import (
	"slices"
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
		{`histogram_quantile(0.99, sum by (le) (rate(e_bucket{job="x"}[5m])))`, []string{"e_bucket"}},
	} {
		got, err := PromQLMetricNames(tc.expr)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.expr, got, err, tc.want)
		}
	}
	for _, bad := range []string{`sum(rate(a[5m])`, `a{b="c}`, `frobnicate(a)`, `sum(a})`} {
		if _, err := PromQLMetricNames(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
