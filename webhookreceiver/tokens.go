package webhookreceiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"time"

	"github.com/go-logr/logr"

	"github.com/ingresse-operator/ingresse-operator/internal/credfile"
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
// is re-read while the server runs, with the policy of credfile (the
// Ingresse API credentials' too): a content that parses replaces the set
// in use, even an empty one (that is how every credential is revoked at
// once); a file that is missing, unreadable or malformed keeps the last
// good set.
type credentialFile[T any, P credentialSet[T]] struct {
	kind string // "token" or "signing secret", for logs and metrics
	file *credfile.File[T]
}

func newCredentialFile[T any, P credentialSet[T]](kind, path string, parse func([]byte) (P, error)) *credentialFile[T, P] {
	return &credentialFile[T, P]{kind: kind, file: credfile.New(kind, path, func(b []byte, _ time.Time) (T, error) {
		set, err := parse(b)
		if err != nil {
			var none T
			return none, err
		}
		return *(*T)(set), nil
	})}
}

// get returns the set in use; nil before the first successful load.
func (f *credentialFile[T, P]) get() P {
	if f == nil {
		return nil
	}
	return P(f.file.Get())
}

// reload reads the file and swaps the set in when the content changed and
// parses. On any error the last good set stays in use. changed reports
// whether a new set was swapped in.
func (f *credentialFile[T, P]) reload(now time.Time) (changed bool, err error) {
	return f.file.Load(now)
}

// observe sets the credential metrics of this file: how many are in use,
// since when, and whether the last read succeeded.
func (f *credentialFile[T, P]) observe(m *metrics) {
	if f == nil {
		return
	}
	st := f.file.Status()
	m.credentials.WithLabelValues(f.kind).Set(float64(f.get().len()))
	if !st.LoadedAt.IsZero() {
		m.credentialsLoaded.WithLabelValues(f.kind).Set(float64(st.LoadedAt.Unix()))
	}
	ok := 0.0
	if st.OK {
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
			log.Error(err, "Keeping the last good credentials", "kind", f.kind, "path", f.file.Path())
		case changed && f.get().len() == 0:
			m.credentialReloads.WithLabelValues(f.kind, "changed").Inc()
			log.Error(nil, "Every credential of this kind is revoked: the file holds none", "kind", f.kind, "path", f.file.Path())
		case changed:
			m.credentialReloads.WithLabelValues(f.kind, "changed").Inc()
			log.Info("Reloaded credentials", "kind", f.kind, "path", f.file.Path(), "count", f.get().len())
		}
		f.observe(m)
	}
}
