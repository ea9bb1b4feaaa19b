//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// row is one line of the suite's table: what a test did and what became of
// the deliveries it sent. Zero counts print as "-".
type row struct {
	what string
	// deliveries sent, HTTP requests that carried them (retries
	// included), deliveries answered 2xx, acknowledged deliveries found
	// stored (or superseded by a newer version), acknowledged deliveries
	// not found: the receiver's promise is lost = 0.
	deliveries, requests, acked, stored, lost int
	// connErrors are requests that got no HTTP answer (refused, reset,
	// timed out); http5xx are answers 500-599 (503 asks to retry).
	connErrors, http5xx int
	// converge is how long what the test waited for took: every event Ready
	// with its ConfigMap, a token taken up, a lease taken over...
	converge time.Duration
}

var (
	rowsMu sync.Mutex
	rows   []row
)

func addRow(r row) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	rows = append(rows, r)
}

// printReport prints the table and writes it to $INGRESSE_REPORT_DIR/e2e.md.
func printReport() {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	cell := func(n int) string {
		if n == 0 {
			return "-"
		}
		return strconv.Itoa(n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nEnd-to-end summary (real cluster on this machine, %s)\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintln(&b, "| what was done | deliveries | requests | 2xx | stored | lost | connection errors | 5xx | time to converge |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		conv := "-"
		if r.converge > 0 {
			conv = r.converge.Round(100 * time.Millisecond).String()
		}
		lost := cell(r.lost)
		if r.deliveries > 0 {
			lost = strconv.Itoa(r.lost)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.what, cell(r.deliveries), cell(r.requests),
			cell(r.acked), cell(r.stored), lost, cell(r.connErrors), cell(r.http5xx), conv)
	}
	fmt.Fprintln(&b)
	fmt.Print(b.String())
	if dir := os.Getenv(testenv.ReportDirEnv); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "e2e.md"), []byte(b.String()), 0o644)
		}
	}
}
