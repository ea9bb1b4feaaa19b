package webhookreceiver

import (
	"bytes"
	"context"
	"crypto/sha256"
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
// part of a token. A file with no token is an empty set: that is how every
// token is revoked at once.
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

// credentialSet is a pointer to a set of credentials (*tokenSet,
// *secretSet) that counts them; nil counts none.
type credentialSet[T any] interface {
	*T
	len() int
}

// credentialFile is a file of credentials (tokens or signing secrets) that
// is re-read while the server runs.
//
// A Secret volume is updated by writing a new directory and swapping a
// symlink to it, which an inotify watch on the file itself does not see;
// reading the path on a timer and comparing a hash of its content does,
// and costs one small read every interval.
//
// A file that is read and parses replaces the set in use, even with an
// empty set: emptying the Secret revokes every credential without a
// restart. A file that is missing, unreadable or malformed keeps the last
// good set: a Secret being replaced, or a typo, must not lock Ingresse out.
type credentialFile[T any, P credentialSet[T]] struct {
	kind  string // "token" or "signing secret", for logs and metrics
	path  string
	parse func([]byte) (P, error)

	current atomic.Pointer[T]
	mu      sync.Mutex // serialises reloads
	sum     [sha256.Size]byte
	// loadedAt is when the set in use was loaded; ok whether the last
	// read succeeded. Both feed the metrics.
	loadedAt time.Time
	ok       bool
}

func newCredentialFile[T any, P credentialSet[T]](kind, path string, parse func([]byte) (P, error)) *credentialFile[T, P] {
	return &credentialFile[T, P]{kind: kind, path: path, parse: parse}
}

// get returns the set in use; nil before the first successful load.
func (f *credentialFile[T, P]) get() P {
	if f == nil {
		return nil
	}
	return P(f.current.Load())
}

// reload reads the file and swaps the set in when the content changed and
// parses. On any error the last good set stays in use. changed reports
// whether a new set was swapped in.
func (f *credentialFile[T, P]) reload(now time.Time) (changed bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ok = false
	b, err := os.ReadFile(f.path)
	if err != nil {
		// An *os.PathError names the path and the cause, never the content.
		return false, fmt.Errorf("reading the %s file: %w", f.kind, err)
	}
	sum := sha256.Sum256(b)
	if sum == f.sum && f.current.Load() != nil {
		f.ok = true
		return false, nil
	}
	set, err := f.parse(b)
	if err != nil {
		return false, fmt.Errorf("parsing the %s file %s: %w", f.kind, f.path, err)
	}
	f.current.Store((*T)(set))
	f.sum, f.loadedAt, f.ok = sum, now, true
	return true, nil
}

// observe sets the credential metrics of this file: how many are in use,
// since when, and whether the last read succeeded.
func (f *credentialFile[T, P]) observe(m *metrics) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m.credentials.WithLabelValues(f.kind).Set(float64(f.get().len()))
	if !f.loadedAt.IsZero() {
		m.credentialsLoaded.WithLabelValues(f.kind).Set(float64(f.loadedAt.Unix()))
	}
	ok := 0.0
	if f.ok {
		ok = 1
	}
	m.credentialsReadable.WithLabelValues(f.kind).Set(ok)
}

// watch reloads the file every interval until ctx is done, logging each
// change and each failure (never a credential) and counting them. A file
// that empties the set is logged as an error: every delivery it
// authenticated is refused from now on.
func (f *credentialFile[T, P]) watch(ctx context.Context, interval time.Duration, now func() time.Time, log logr.Logger, m *metrics) {
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
		changed, err := f.reload(now())
		switch {
		case err != nil:
			m.credentialReloads.WithLabelValues(f.kind, "error").Inc()
			log.Error(err, "Keeping the last good credentials", "kind", f.kind, "path", f.path)
		case changed && f.get().len() == 0:
			m.credentialReloads.WithLabelValues(f.kind, "changed").Inc()
			log.Error(nil, "Every credential of this kind is revoked: the file holds none", "kind", f.kind, "path", f.path)
		case changed:
			m.credentialReloads.WithLabelValues(f.kind, "changed").Inc()
			log.Info("Reloaded credentials", "kind", f.kind, "path", f.path, "count", f.get().len())
		}
		f.observe(m)
	}
}
