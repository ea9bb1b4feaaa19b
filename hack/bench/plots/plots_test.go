package plots

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestDraw(t *testing.T) {
	results := readFile(t, "testdata/results.json")
	scale := readFile(t, "testdata/scale.json")
	for _, tc := range []struct {
		name string
		doc  []byte
		// want is, for each figure expected, text it must show (titles,
		// axis labels, phases, legend entries, values); a figure not
		// listed must not be drawn.
		want map[string][]string
		// absent is text no figure may show.
		absent []string
	}{{
		name: "make bench",
		doc:  results,
		want: map[string][]string{
			Throughput: {"2xx deliveries per second", "new", "changed", "duplicate", "new-c1", "C=32", "C=1",
				"installed", "one-process", "API server alone: IngresseEvent creates/s (updates/s for changed)",
				// The bars' values: each topology's, and the baseline's
				// mean at C=32 (creates for new, updates for changed) and
				// at C=1.
				"217", "266", "635", "66", "350", "280", "240"},
			Latency: {"HTTP answer", "POST → Ready", "new", "rated-50", "fixed rate", "installed", "one-process", "p50", "p95", "p99", "10 ms", "1 s"},
			Memory:  {"stored IngresseEvents", "MiB", "installed receiver RSS", "installed controller heap in use", "one-process manager RSS", "10k"},
		},
	}, {
		name: "make bench-scale",
		doc:  scale,
		want: map[string][]string{
			Latency: {"HTTP answer", "POST → Ready", "1,000 stored", "100,000 stored", "installed", "p99"},
			Memory:  {"Memory against stored events (installed topology)", "receiver RSS", "controller heap in use", "100k"},
		},
	}, {
		name: "a resync-only run: no phase, no memory sample",
		doc:  []byte(`{"resync": {"events": 10}, "topologies": null}`),
		want: map[string][]string{},
	}, {
		name: "only fixed-rate phases, no baseline: latency alone",
		doc: []byte(`{"topologies": [{"name": "installed", "phases": [
			{"name": "rated-50", "concurrency": 32, "targetRatePerSec": 50, "ingestPerSec": 50, "httpAnswer": {"p50ms": 13, "p95ms": 68, "p99ms": 94}}]}]}`),
		want: map[string][]string{Latency: {"HTTP answer", "rated-50"}},
	}, {
		name: "no baseline: throughput without its bars",
		doc: []byte(`{"topologies": [{"name": "installed", "phases": [
			{"name": "new", "concurrency": 32, "ingestPerSec": 217, "httpAnswer": {"p50ms": 130, "p95ms": 282, "p99ms": 354}}]}]}`),
		want:   map[string][]string{Throughput: {"new", "217", "installed"}, Latency: {"HTTP answer", "installed"}},
		absent: []string{"API server alone: IngresseEvent creates/s (updates/s for changed)"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			figs, err := Draw(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			var drawn []string
			for _, f := range figs {
				drawn = append(drawn, f.Name)
				want, ok := tc.want[f.Name]
				if !ok {
					t.Errorf("drew %s, which the file holds no data for", f.Name)
					continue
				}
				shown := texts(t, f.SVG)
				for _, w := range want {
					if !slices.Contains(shown, w) {
						t.Errorf("%s does not show %q; it shows %q", f.Name, w, shown)
					}
				}
				for _, a := range tc.absent {
					if slices.Contains(shown, a) {
						t.Errorf("%s shows %q", f.Name, a)
					}
				}
			}
			for name := range tc.want {
				if !slices.Contains(drawn, name) {
					t.Errorf("did not draw %s (drew %v)", name, drawn)
				}
			}
		})
	}
}

// TestDrawIsDeterministic: the same JSON gives the same bytes, so that
// the figures in docs/img change only when a run does.
func TestDrawIsDeterministic(t *testing.T) {
	for _, file := range []string{"testdata/results.json", "testdata/scale.json"} {
		doc := readFile(t, file)
		first, err := Draw(doc)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			again, err := Draw(doc)
			if err != nil {
				t.Fatal(err)
			}
			if len(again) != len(first) {
				t.Fatalf("%s: %d figures, then %d", file, len(first), len(again))
			}
			for i := range first {
				if !bytes.Equal(first[i].SVG, again[i].SVG) {
					t.Errorf("%s: %s differs between two renders", file, first[i].Name)
				}
			}
		}
	}
}

func TestDrawRefusesWhatIsNotJSON(t *testing.T) {
	if _, err := Draw([]byte("not json")); err == nil {
		t.Fatal("drew figures from a file that is not JSON")
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	doc := readFile(t, "testdata/scale.json")
	path := filepath.Join(dir, "scale.json")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	// A throughput figure left by an earlier file of the same name: this
	// one holds no throughput, so the figure must go.
	stale := filepath.Join(dir, "scale-throughput.svg")
	if err := os.WriteFile(stale, []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	written, err := WriteFiles(path, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "scale-latency.svg"), filepath.Join(dir, "scale-memory.svg")}
	if !slices.Equal(written, want) {
		t.Errorf("wrote %v, want %v", written, want)
	}
	for _, f := range want {
		texts(t, readFile(t, f))
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale %s is still there (%v)", stale, err)
	}

	other := filepath.Join(dir, "img")
	written, err = WriteFiles(path, other)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 || filepath.Dir(written[0]) != other {
		t.Errorf("with a directory, wrote %v, want two figures in %s", written, other)
	}
}

// texts parses svg as XML and returns the text of each of its text
// elements.
func texts(t *testing.T, svg []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var out []string
	inText := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				out = append(out, string(tok))
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("the SVG has no text")
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
