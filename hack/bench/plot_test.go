package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ingresse-operator/ingresse-operator/hack/bench/plots"
)

// TestPlotsReadWhatTheBenchWrites: package plots reads the JSON, not
// these types, so a renamed member would silently leave a figure, a
// panel or a bar out. Each is drawn from the JSON of the bench's own
// types.
func TestPlotsReadWhatTheBenchWrites(t *testing.T) {
	http, ready := percentiles{P50: 10, P95: 40, P99: 90}, percentiles{P50: 200, P95: 900, P99: 1200}
	res := &results{
		Baselines: []baseline{{When: "start", Concurrency: 32, EventCreatesPerSec: 340, EventUpdatesPerSec: 280}},
		Topologies: []*topologyResults{{
			Name: topologyInstalled,
			Phases: []*phase{
				{Name: phaseNew, Concurrency: 32, IngestPerSec: 217, HTTP: http, PostToReady: ready},
				{Name: phaseChanged, Concurrency: 32, IngestPerSec: 140, HTTP: http, PostToReady: ready},
				{Name: phaseRated50, Concurrency: 32, TargetRate: fixedRate, IngestPerSec: 50, HTTP: http, PostToReady: ready},
			},
			Memory: []memory{
				{Process: roleReceiver, StoredEvents: 1000, RSSMiB: 60, HeapInuseMiB: 12},
				{Process: roleReceiver, StoredEvents: 10000, RSSMiB: 110, HeapInuseMiB: 55},
			},
		}},
	}
	path := filepath.Join(t.TempDir(), "results.json")
	if err := res.write(path); err != nil {
		t.Fatal(err)
	}
	written, err := plots.WriteFiles(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := figurePaths(path, plots.Throughput, plots.Latency, plots.Memory); !slices.Equal(written, want) {
		t.Fatalf("from make bench's JSON, wrote %v, want %v", written, want)
	}
	// Each topology's bars, and the baseline's: creates next to new
	// events, updates next to changed ones; both latency panels; the
	// memory curve's process.
	shows(t, written[0], ">217<", ">140<", ">340<", ">280<", ">new<", ">changed<")
	shows(t, written[1], ">HTTP answer<", ">POST → Ready<", ">rated-50<")
	shows(t, written[2], ">installed receiver RSS<", ">10k<")

	scale := &scaleResults{
		Steps: []scaleStep{
			{Stored: 1000, Memory: []memory{{Process: roleReceiver, StoredEvents: 1000, RSSMiB: 55, HeapInuseMiB: 11}}},
			{Stored: 100000, Memory: []memory{{Process: roleReceiver, StoredEvents: 100000, RSSMiB: 541, HeapInuseMiB: 460}}},
		},
		Rated: []scaleRated{{Stored: 1000, Rate: fixedRate, HTTP: http, Ready: ready}},
	}
	doc, err := json.Marshal(scale)
	if err != nil {
		t.Fatal(err)
	}
	figs, err := plots.Draw(doc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range figs {
		names = append(names, f.Name)
	}
	if want := []string{plots.Latency, plots.Memory}; !slices.Equal(names, want) {
		t.Fatalf("from make bench-scale's JSON, drew %v, want %v", names, want)
	}
	for _, s := range []string{">HTTP answer<", ">POST → Ready<", ">1,000 stored<"} {
		if !bytes.Contains(figs[0].SVG, []byte(s)) {
			t.Errorf("the scale latency figure does not show %s", s)
		}
	}
	if !bytes.Contains(figs[1].SVG, []byte(">100k<")) {
		t.Error("the scale memory figure does not reach 100k stored events")
	}
}

// shows fails t unless the file at path holds each of want.
func shows(t *testing.T, path string, want ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("%s does not show %s", filepath.Base(path), w)
		}
	}
}

func figurePaths(path string, names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, path[:len(path)-len(".json")]+"-"+n+".svg")
	}
	return out
}
