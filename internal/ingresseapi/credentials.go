package ingresseapi

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/ingresse-operator/ingresse-operator/internal/credfile"
)

// Credentials are what a user puts in the mounted Secret file.
type Credentials struct {
	// APIKey is the application's key: sent as the apikey query parameter
	// to the company listing and to the JWT renewal.
	APIKey string
	// UserToken is the user's v1 token: it lets the client get a new JWT
	// when the one in use expires.
	UserToken string
	// JWT is sent as "Authorization: Bearer" to the event service. Empty
	// with a UserToken set, the client gets one before its first call.
	JWT string
}

// credentialKeys are the keys of a credentials file, lower case.
var credentialKeys = []string{"apikey", "usertoken", "jwt"}

// ParseCredentials reads a credentials file: one key=value a line, with
// the keys apikey, usertoken and jwt in any case. Surrounding white space
// (a trailing \r included) is not part of a key or a value; blank lines and
// lines starting with # are ignored. A key with an empty value is not set.
//
// An error names the line and, when it looks like one, the key; never a
// value, nor a line that has no '=' (it may be a credential pasted alone).
func ParseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	seen := map[string]int{}
	n := 0
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		n++
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok {
			return Credentials{}, fmt.Errorf("line %d: not key=value (the line is not shown: it may hold a credential)", n)
		}
		rawKey := string(bytes.TrimSpace(k))
		key := strings.ToLower(rawKey)
		value := string(bytes.TrimSpace(v))
		if first, dup := seen[key]; dup {
			return Credentials{}, fmt.Errorf("line %d: %s is set again (first on line %d)", n, key, first)
		}
		switch key {
		case "apikey":
			c.APIKey = value
		case "usertoken":
			c.UserToken = value
		case "jwt":
			c.JWT = value
		default:
			return Credentials{}, fmt.Errorf("line %d: unknown key %s: the keys are %s", n, showKey(rawKey), strings.Join(credentialKeys, ", "))
		}
		seen[key] = n
	}
	if c == (Credentials{}) {
		return Credentials{}, errors.New("no credential: set at least one of apikey, usertoken, jwt")
	}
	return c, nil
}

// showKey quotes an unknown key when it looks like a key name: letters,
// perhaps joined by '_', '-' or '.', at most 20 of them. Anything else is
// hidden: a base64 credential ends in '=' and is read as a key, and those
// are long and hold digits.
func showKey(key string) string {
	if key == "" {
		return `""`
	}
	if len(key) > 20 {
		return "(not shown: longer than a key name)"
	}
	for i, r := range key {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		separator := (r == '_' || r == '-' || r == '.') && i > 0 && i < len(key)-1
		if !letter && !separator {
			return "(not shown: not a key name)"
		}
	}
	return fmt.Sprintf("%q", key)
}

// present lists which credentials are set, for a log line: names only.
func (c Credentials) present() []string {
	var names []string
	for i, v := range []string{c.APIKey, c.UserToken, c.JWT} {
		if v != "" {
			names = append(names, credentialKeys[i])
		}
	}
	return names
}

// redact replaces every credential value in s: an API's message may echo
// what it was sent.
func (c Credentials) redact(s string, more ...string) string {
	for _, v := range append([]string{c.APIKey, c.UserToken, c.JWT}, more...) {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// credentialState is the credentials in use, their file, and the JWT in
// use, which is the file's until a renewal replaces it.
//
// The file is kept by credfile (the receiver's tokens are too): re-read
// by the first call after ReloadInterval has passed, so a client needs no
// goroutine of its own and one that makes no call reads nothing; a new
// content that parses and can serve every use replaces the credentials and
// the JWT in use, a renewed one included; on any error the last good
// credentials stay in use.
type credentialState struct {
	file     *credfile.File[Credentials]
	interval time.Duration
	log      logr.Logger
	m        *metrics
	uses     []use // what the client is configured for

	mu sync.Mutex
	// jwt is the JWT in use: the file's, or a renewal's for the file
	// content of generation jwtGen.
	jwt    string
	jwtGen uint64
}

// newCredentialState is the state of the credentials file at path, for a
// client configured for uses: a file that cannot serve all of them is
// refused, at start and on every reload (a Secret rotated to credentials
// that cannot serve what the client is for would turn every call into a
// failure; the last good ones may still work, as they do when the file
// cannot be read).
func newCredentialState(path string, interval time.Duration, log logr.Logger, m *metrics, uses []use) *credentialState {
	parse := func(b []byte, now time.Time) (Credentials, error) {
		c, err := ParseCredentials(b)
		if err != nil {
			return Credentials{}, err
		}
		var unfit []string
		for _, u := range uses {
			if err := judge(u, c, c.JWT, path, now); err != nil {
				unfit = append(unfit, err.Error())
			}
		}
		if len(unfit) > 0 {
			return Credentials{}, errors.New(strings.Join(unfit, "; "))
		}
		return c, nil
	}
	return &credentialState{file: credfile.New("Ingresse credentials", path, parse), interval: interval, log: log, m: m, uses: uses}
}

// snapshot is the credentials and JWT in use, and their generation.
func (s *credentialState) snapshot() (Credentials, string, uint64) {
	creds, gen, _ := s.file.Current()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jwtGen != gen {
		// A new content of the file: its JWT, not a renewal of the old.
		s.jwt, s.jwtGen = creds.JWT, gen
	}
	return creds, s.jwt, gen
}

// setJWT puts a renewed JWT in use, unless the file changed since the
// renewal started: the file's credentials win.
func (s *credentialState) setJWT(jwt string, gen uint64) {
	if _, current, _ := s.file.Current(); current != gen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwt, s.jwtGen = jwt, gen
}

// load reads the file (see credfile.File.Load) and counts the result.
func (s *credentialState) load(now time.Time) (changed bool, err error) {
	changed, err = s.file.Load(now)
	s.observe(now, changed, err)
	return changed, err
}

// observe sets the reload metrics after a read of the file.
func (s *credentialState) observe(now time.Time, changed bool, err error) {
	s.m.reloadResult(err == nil)
	if changed {
		s.m.credentialsLoaded.Set(float64(now.UnixNano()) / 1e9)
	}
}

// reloadIfDue reads the file again when ReloadInterval has passed since
// the last read, logging a change or a failure (never a value). A caller
// that finds another one reading it goes on with the credentials in use.
func (s *credentialState) reloadIfDue(now time.Time) {
	attempted, changed, err := s.file.LoadIfDue(now, s.interval)
	if !attempted {
		return
	}
	s.observe(now, changed, err)
	switch {
	case err != nil:
		s.log.Error(err, "Keeping the last good Ingresse credentials", "path", s.file.Path())
	case changed:
		creds, _, _ := s.snapshot()
		s.log.Info("Reloaded the Ingresse credentials", "path", s.file.Path(), "set", creds.present())
		s.warnUnrenewable(now)
	}
}

// warnUnrenewable logs, once per new content of the file, that the JWT
// the uses need cannot be renewed (no usertoken, or no apikey to renew
// with), and when it expires: what needs it stops at that time unless the
// Secret gets a new one. Never a value: the expiry is a claim, not the
// token.
func (s *credentialState) warnUnrenewable(now time.Time) {
	creds, jwt, _ := s.snapshot()
	var affected []string
	for _, u := range s.uses {
		if needsBearer(u) {
			affected = append(affected, needs[u].what)
		}
	}
	if len(affected) == 0 || jwt == "" || creds.canRenew() {
		return
	}
	var missing []string
	for _, k := range renewal {
		if creds.get(k) == "" {
			missing = append(missing, string(k))
		}
	}
	kv := []any{"path", s.file.Path(), "uses", affected, "missingToRenew", missing}
	switch exp, kind := jwtExpiry(jwt); kind {
	case expiryClaim:
		kv = append(kv, "expiresAt", exp.Format(time.RFC3339), "expiresIn", exp.Sub(now).Round(time.Second).String())
	case expiryNone:
		kv = append(kv, "expiresAt", "unknown: the JWT has no exp claim")
	default:
		kv = append(kv, "expiresAt", "unknown: not a JWT whose claims can be read")
	}
	s.log.Info("The Ingresse JWT cannot be renewed: what needs it stops working when it expires, unless the credentials file gets a new one", kv...)
}
