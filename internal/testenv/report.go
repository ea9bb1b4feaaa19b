package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Row is one line of the reliability summary: what a fault, load or
// hostile-input test tried and what became of the deliveries it sent.
// Zero columns print as "-".
type Row struct {
	// Test names the test.
	Test string
	// Cases is how many hostile or malformed inputs were tried.
	Cases int
	// Faults is how many faults were injected (outages, kills, injected
	// API errors).
	Faults int
	// Sent is how many distinct deliveries were sent.
	Sent int
	// Requests is how many HTTP requests carried them, retries included.
	Requests int
	// Acked is how many deliveries were answered 2xx.
	Acked int
	// Stored is how many acknowledged deliveries were found stored, or
	// superseded by a newer version of the same event.
	Stored int
	// Lost is how many acknowledged deliveries were not: the number the
	// receiver promises is always 0.
	Lost int
}

var (
	reportMu sync.Mutex
	report   []Row
)

// Report adds a row to the summary that Run prints once the package's
// tests have run.
func Report(r Row) {
	reportMu.Lock()
	defer reportMu.Unlock()
	report = append(report, r)
}

// ReportDirEnv names the environment variable of a directory where Run
// also writes the summary, one file per test package (`make test` sets it
// and prints the files at the end, since go test shows a passing
// package's output only with -v).
const ReportDirEnv = "INGRESSE_REPORT_DIR"

// printReport writes the summary, if any test reported, to stdout and to
// the report directory.
func printReport() {
	reportMu.Lock()
	rows := append([]Row(nil), report...)
	reportMu.Unlock()
	if len(rows) == 0 {
		return
	}
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	var b strings.Builder
	writeReport(&b, pkg, rows)
	fmt.Print(b.String())
	if dir := os.Getenv(ReportDirEnv); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(dir, pkg+".md"), []byte(b.String()), 0o644)
		}
	}
}

func writeReport(w io.Writer, pkg string, rows []Row) {
	cell := func(n int) string {
		if n == 0 {
			return "-"
		}
		return strconv.Itoa(n)
	}
	fmt.Fprintf(w, "\nReliability summary (%s, %s)\n\n", pkg, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintln(w, "| test | cases | faults | deliveries | requests | 2xx | stored | lost |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	var total Row
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %d |\n", r.Test, cell(r.Cases), cell(r.Faults),
			cell(r.Sent), cell(r.Requests), cell(r.Acked), cell(r.Stored), r.Lost)
		total.Cases += r.Cases
		total.Faults += r.Faults
		total.Sent += r.Sent
		total.Requests += r.Requests
		total.Acked += r.Acked
		total.Stored += r.Stored
		total.Lost += r.Lost
	}
	if len(rows) > 1 {
		fmt.Fprintf(w, "| **total** | %s | %s | %s | %s | %s | %s | **%d** |\n", cell(total.Cases), cell(total.Faults),
			cell(total.Sent), cell(total.Requests), cell(total.Acked), cell(total.Stored), total.Lost)
	}
	fmt.Fprintln(w)
}

// Metrics scrapes a Prometheus text endpoint (a manager's /metrics) and
// returns every sample by its series, as printed: name{labels}.
func Metrics(url string) (map[string]float64, error) {
	return MetricsWith(&http.Client{Timeout: 5 * time.Second}, url)
}

// MetricsWith is Metrics through c (the API server's /metrics needs
// credentials: rest.HTTPClientFor).
func MetricsWith(c *http.Client, url string) (map[string]float64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		samples[line[:i]] = v
	}
	return samples, sc.Err()
}

// Sum adds up the samples of a metric whose series contain every one of
// labels (written as name="value").
func Sum(samples map[string]float64, name string, labels ...string) float64 {
	sum := 0.0
series:
	for series, v := range samples {
		if series != name && !strings.HasPrefix(series, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(series, l) {
				continue series
			}
		}
		sum += v
	}
	return sum
}
