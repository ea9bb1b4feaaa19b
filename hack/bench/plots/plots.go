// Package plots draws the figures of a benchmark run as SVG, from the JSON
// hack/bench writes:
//
//   - of make bench: throughput per phase against the API server alone,
//     latency quantiles per phase, memory against stored events;
//   - of make bench-scale: memory against stored events, and latency at
//     50 deliveries/s at the first and last step.
//
// It reads the JSON, not the bench's Go types, so that the file of an
// earlier run can be redrawn without running anything (go run ./hack/bench
// --plot FILE). A figure is drawn only when the file holds its data, and
// the same file always gives the same bytes, so that figures can be
// committed.
package plots

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Names of the figures, in the order Draw returns them.
const (
	Throughput = "throughput"
	Latency    = "latency"
	Memory     = "memory"
)

var names = []string{Throughput, Latency, Memory}

// Figure is one drawn figure.
type Figure struct {
	// Name is Throughput, Latency or Memory.
	Name string
	SVG  []byte
}

// Draw draws every figure doc, the JSON of make bench or make bench-scale,
// holds the data of.
func Draw(doc []byte) ([]Figure, error) {
	var r run
	if err := json.Unmarshal(doc, &r); err != nil {
		return nil, fmt.Errorf("decoding the results: %w", err)
	}
	var figs []Figure
	for _, name := range names {
		var page *svgPage
		var err error
		switch name {
		case Throughput:
			page, err = throughput(&r)
		case Latency:
			page, err = latency(&r)
		case Memory:
			page, err = memory(&r)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if page == nil {
			continue
		}
		b, err := page.svg()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		figs = append(figs, Figure{Name: name, SVG: b})
	}
	return figs, nil
}

// WriteFiles draws the figures of the JSON file at path into dir (next to
// the file when dir is empty), each as <file name without .json>-<figure
// name>.svg, and returns the paths written. A figure of that name the file
// holds no data for is removed, so that none is left from another run.
func WriteFiles(path, dir string) ([]string, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	figs, err := Draw(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if dir == "" {
		dir = filepath.Dir(path)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	prefix := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), ".json")+"-")
	drawn := map[string]bool{}
	var written []string
	for _, f := range figs {
		out := prefix + f.Name + ".svg"
		if err := os.WriteFile(out, f.SVG, 0o644); err != nil {
			return written, err
		}
		drawn[f.Name] = true
		written = append(written, out)
	}
	for _, name := range names {
		if drawn[name] {
			continue
		}
		if err := os.Remove(prefix + name + ".svg"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return written, err
		}
	}
	return written, nil
}

// svgPage is a figure: one plot, or several side by side.
type svgPage struct {
	w, h  vg.Length
	plots []*plot.Plot
}

// svg renders p. Liberation Sans, whose metrics laid the text out, is
// metric-compatible with Arial and Helvetica; naming them as fallbacks
// keeps the layout where it is not installed, without embedding the font.
func (p *svgPage) svg() ([]byte, error) {
	c := vgsvg.New(p.w, p.h)
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Path())
	tiles := draw.Tiles{Rows: 1, Cols: len(p.plots), PadX: vg.Points(16), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align([][]*plot.Plot{p.plots}, tiles, dc)
	for i, pl := range p.plots {
		pl.Draw(canvases[0][i])
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"), []byte("font-family:Liberation Sans,Arial,Helvetica,sans-serif;")), nil
}
