// Command promql parses PromQL expressions with Prometheus's own parser and
// says which metrics each one reads. It reads a JSON array of expressions on
// stdin and writes a JSON array of answers, one per expression in the same
// order: the metric names it reads, or why it does not parse.
//
// The tests of the alerts and the Grafana dashboard run it through
// internal/testenv.PromQLMetricNames. It is a module of its own so that the
// operator's go.mod does not take in Prometheus and its dependencies.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// answer is what the tool says about one expression.
type answer struct {
	Expr string `json:"expr"`
	// Names are the metric names the expression reads, in the order they
	// first appear.
	Names []string `json:"names"`
	// Error is why the expression does not parse, or names a selector
	// whose metric name is not a literal (and so cannot be checked).
	Error string `json:"error,omitempty"`
}

func main() {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		fmt.Fprintln(os.Stderr, "promql: reading a JSON array of expressions on stdin:", err)
		os.Exit(2)
	}
	// The defaults are Prometheus's own: experimental functions and syntax
	// are errors unless a server enables them.
	p := parser.NewParser(parser.Options{})
	answers := make([]answer, 0, len(exprs))
	for _, expr := range exprs {
		a := answer{Expr: expr, Names: []string{}}
		names, err := metricNames(p, expr)
		if err != nil {
			a.Error = err.Error()
		} else {
			a.Names = names
		}
		answers = append(answers, a)
	}
	if err := json.NewEncoder(os.Stdout).Encode(answers); err != nil {
		fmt.Fprintln(os.Stderr, "promql: writing the answers:", err)
		os.Exit(1)
	}
}

// metricNames parses expr and returns the metric name of every vector
// selector in it (those inside range selectors and subqueries included),
// whether written as `name{...}` or `{__name__="name"}`.
func metricNames(p parser.Parser, expr string) ([]string, error) {
	ast, err := p.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	names := []string{}
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := ""
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			// A pattern such as {__name__=~"ingresse_.*"} names no metric
			// that could be compared with what the manager exports.
			err = fmt.Errorf("selector %s does not name its metric literally", vs)
			return err
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}
