package main

import (
	"fmt"
	"os"

	"github.com/ingresse-operator/ingresse-operator/hack/bench/plots"
)

// drawPlots draws the figures of the JSON at path into dir (next to it
// when dir is empty) and says where they went.
func drawPlots(path, dir string) error {
	written, err := plots.WriteFiles(path, dir)
	if err != nil {
		return fmt.Errorf("drawing the figures: %w", err)
	}
	for _, f := range written {
		fmt.Fprintln(os.Stderr, "wrote", f)
	}
	return nil
}
