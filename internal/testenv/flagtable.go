package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// flagRow is a row of docs/operations.md's flag table: | `--name` | default | ... |
var flagRow = regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\| ([^|]*) \\|")

// DocumentedFlags reads the "### Every flag" table of docs/operations.md:
// each flag's name, without its dashes, and its Default column as written.
func DocumentedFlags() (map[string]string, error) {
	doc, err := os.ReadFile(filepath.Join(RepoRoot(), "docs", "operations.md"))
	if err != nil {
		return nil, err
	}
	_, table, ok := strings.Cut(string(doc), "### Every flag")
	if !ok {
		return nil, fmt.Errorf("docs/operations.md has no \"### Every flag\" table")
	}
	flags := map[string]string{}
	for _, m := range flagRow.FindAllStringSubmatch(table, -1) {
		flags[m[1]] = strings.TrimSpace(m[2])
	}
	return flags, nil
}
