package main

import (
	"math"
	"testing"
)

// The API server's write p99 is read from the difference of two scrapes
// of its cumulative histogram, to a bucket's upper bound.
func TestHistogramQuantile(t *testing.T) {
	before := histogram{0.005: 10, 0.025: 10, 0.1: 10, 1: 10, math.Inf(1): 10}
	after := histogram{0.005: 60, 0.025: 105, 0.1: 108, 1: 110, math.Inf(1): 110}
	phase := after.minus(before)
	if got := phase.quantile(0.5); got != 0.005 {
		t.Errorf("p50 %v, want 0.005", got)
	}
	if got := phase.quantile(0.99); got != 1 {
		t.Errorf("p99 %v, want 1 (the 99th of 100 writes is in the last finite bucket)", got)
	}
	if got := (histogram{}).quantile(0.99); got != 0 {
		t.Errorf("empty: %v", got)
	}
}
