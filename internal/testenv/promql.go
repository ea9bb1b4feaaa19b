package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

var (
	promqlOnce  sync.Once
	promqlTool  string
	promqlBuild error
)

// buildPromQL builds hack/promql, Prometheus's PromQL parser in a module of
// its own, once per process into bin/promql. Test processes run side by
// side, so each builds under a name of its own and renames it into place:
// another never runs a half-written binary, and none is left behind.
func buildPromQL() (string, error) {
	promqlOnce.Do(func() {
		bin := filepath.Join(RepoRoot(), "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			promqlBuild = err
			return
		}
		built := filepath.Join(bin, fmt.Sprintf("promql-%d.tmp", os.Getpid()))
		var stderr bytes.Buffer
		cmd := exec.Command("go", "build", "-o", built, ".")
		cmd.Dir = filepath.Join(RepoRoot(), "hack", "promql")
		// The machine's Go is the one (as in the Makefile); no C toolchain needed.
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "CGO_ENABLED=0")
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			_ = os.Remove(built) // whatever go build left, if anything
			promqlBuild = fmt.Errorf("go build hack/promql: %w\n%s", err, stderr.String())
			return
		}
		promqlTool = filepath.Join(bin, "promql")
		promqlBuild = os.Rename(built, promqlTool)
	})
	return promqlTool, promqlBuild
}

// PromQLMetricNames parses a PromQL expression with Prometheus's own
// parser (hack/promql) and returns the metric names it reads, each once,
// in the order they first appear. The error names the expression when it
// does not parse (syntax, an unknown function, an argument of the wrong
// type) or when a selector does not name its metric literally
// ({__name__=~"..."}), so that no name could be checked.
func PromQLMetricNames(expr string) ([]string, error) {
	tool, err := buildPromQL()
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal([]string{expr})
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tool)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("hack/promql: %w\n%s", err, stderr.String())
	}
	var answers []struct {
		Names []string `json:"names"`
		Error string   `json:"error"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &answers); err != nil || len(answers) != 1 {
		return nil, errors.Join(fmt.Errorf("hack/promql answered %q to one expression", stdout.String()), err)
	}
	if answers[0].Error != "" {
		return nil, fmt.Errorf("%q: %s", expr, answers[0].Error)
	}
	return answers[0].Names, nil
}
