// Package sleep waits for a duration or a context, whichever ends first.
package sleep

import (
	"context"
	"time"
)

// For sleeps for d, or until ctx is done, and then returns ctx's error. A
// d of 0 or less returns at once.
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
