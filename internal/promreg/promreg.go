// Package promreg registers a component's Prometheus collectors together.
//
// Not client_golang's promauto.With, which panics when a collector is
// already registered: a component built twice on one registry (a second
// receiver in one process) must fail with an error that names it, not
// crash the manager at start (webhookreceiver's TestNewRefusesUnsafeConfigurations).
package promreg

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register adds every collector to reg, and says which component's
// metrics failed (what, e.g. "the receiver's"). A nil reg registers none:
// tests build components without a registry.
func Register(reg prometheus.Registerer, what string, collectors ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	var errs []error
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("registering %s metrics: %w", what, err)
	}
	return nil
}
