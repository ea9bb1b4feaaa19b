package webhookreceiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// tokenSet is the accepted tokens, kept only as SHA-256 digests: comparing
// fixed-size digests in constant time leaks neither a token nor its length.
type tokenSet struct {
	digests [][sha256.Size]byte
}

func (t *tokenSet) len() int {
	if t == nil {
		return 0
	}
	return len(t.digests)
}

// parseTokens reads one token per line. Blank lines and lines starting with
// # are ignored; surrounding white space (a trailing \r included) is not
// part of a token. Errors never quote a line: it may be a token.
func parseTokens(b []byte) (*tokenSet, error) {
	set := &tokenSet{}
	seen := map[[sha256.Size]byte]bool{}
	for _, line := range credentialLines(b) {
		d := sha256.Sum256(line)
		if !seen[d] {
			seen[d] = true
			set.digests = append(set.digests, d)
		}
	}
	if len(set.digests) == 0 {
		return nil, errors.New("no token in the file")
	}
	return set, nil
}

// credentialLines returns the non-blank, non-comment lines of b, trimmed.
func credentialLines(b []byte) [][]byte {
	var lines [][]byte
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

// credentialFile is a file of credentials (tokens or signing secrets) that
// is re-read while the server runs.
//
// A Secret volume is updated by writing a new directory and swapping a
// symlink to it, which an inotify watch on the file itself does not see;
// reading the path on a timer and comparing a hash of its content does,
// and costs one small read every interval.
type credentialFile[T any] struct {
	kind  string // "token" or "signing secret", for logs and metrics
	path  string
	parse func([]byte) (*T, error)

	current atomic.Pointer[T]
	mu      sync.Mutex // serialises reloads
	sum     [sha256.Size]byte
}

func newCredentialFile[T any](kind, path string, parse func([]byte) (*T, error)) *credentialFile[T] {
	return &credentialFile[T]{kind: kind, path: path, parse: parse}
}

// get returns the set in use; nil before the first successful load.
func (f *credentialFile[T]) get() *T {
	if f == nil {
		return nil
	}
	return f.current.Load()
}

// reload reads the file and swaps the set in when the content changed and
// parses. On any error the last good set stays in use. changed reports
// whether a new set was swapped in.
func (f *credentialFile[T]) reload() (changed bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if err != nil {
		// An *os.PathError names the path and the cause, never the content.
		return false, fmt.Errorf("reading the %s file: %w", f.kind, err)
	}
	sum := sha256.Sum256(b)
	if sum == f.sum && f.current.Load() != nil {
		return false, nil
	}
	set, err := f.parse(b)
	if err != nil {
		return false, fmt.Errorf("parsing the %s file %s: %w", f.kind, f.path, err)
	}
	f.current.Store(set)
	f.sum = sum
	return true, nil
}

// watch reloads the file every interval until ctx is done, logging each
// change and each failure (never a credential) and counting them.
func (f *credentialFile[T]) watch(ctx context.Context, interval time.Duration, log logr.Logger, m *metrics) {
	if f == nil {
		return
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		changed, err := f.reload()
		switch {
		case err != nil:
			m.credentialReloads.WithLabelValues(f.kind, "error").Inc()
			log.Error(err, "Keeping the last good credentials", "kind", f.kind, "path", f.path)
		case changed:
			m.credentialReloads.WithLabelValues(f.kind, "changed").Inc()
			log.Info("Reloaded credentials", "kind", f.kind, "path", f.path)
		}
	}
}
