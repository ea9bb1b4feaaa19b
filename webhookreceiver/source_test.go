package webhookreceiver

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func prefixes(t testing.TB, s ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestSourceAddr(t *testing.T) {
	trusted := prefixes(t, "10.0.0.0/24", "fd00::/64")
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct peer", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"direct peer ignores a forged header", "203.0.113.7:5555", []string{"10.9.9.9"}, "203.0.113.7"},
		{"trusted proxy without a header is the source", "10.0.0.5:80", nil, "10.0.0.5"},
		{"trusted proxy: the right-most entry", "10.0.0.5:80", []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"trusted proxies chained", "10.0.0.5:80", []string{"203.0.113.9, 10.0.0.7", "10.0.0.8"}, "203.0.113.9"},
		{"client-written entries to the left are ignored", "10.0.0.5:80", []string{"10.0.0.1, 192.0.2.66, 10.0.0.6"}, "192.0.2.66"},
		{"an unparsable entry where the source should be", "10.0.0.5:80", []string{"203.0.113.9, not-an-ip"}, "invalid IP"},
		{"every hop trusted: the left-most", "10.0.0.5:80", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"IPv6 trusted proxy", "[fd00::1]:80", []string{"2001:db8::5"}, "2001:db8::5"},
		{"IPv4-mapped IPv6 peer", "[::ffff:203.0.113.7]:80", nil, "203.0.113.7"},
		{"unparsable peer", "somewhere", nil, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, webhookPath, nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := sourceAddr(r, trusted).String(); got != tc.want {
				t.Fatalf("source %s, want %s", got, tc.want)
			}
		})
	}
}

// TestSourceAllowlist: with an allowlist, other sources get 403 before
// authentication; X-Forwarded-For counts only from a trusted proxy.
func TestSourceAllowlist(t *testing.T) {
	r := newHTTPReplica(t, replicaConfig{opts: func(o *Options) {
		o.AllowedCIDRs = prefixes(t, "198.51.100.0/24", "2001:db8::/32")
		o.TrustedProxies = prefixes(t, "10.0.0.0/8")
	}})
	from := func(remote string, xff ...string) func(*http.Request) {
		return func(r *http.Request) {
			r.RemoteAddr = remote
			for _, v := range xff {
				r.Header.Add("X-Forwarded-For", v)
			}
		}
	}
	for _, tc := range []struct {
		name string
		edit []func(*http.Request)
		code int
	}{
		{"allowed peer", []func(*http.Request){from("198.51.100.20:4000")}, http.StatusAccepted},
		{"allowed IPv6 peer", []func(*http.Request){from("[2001:db8::1]:4000")}, http.StatusAccepted},
		{"allowed source behind the ingress", []func(*http.Request){from("10.1.2.3:80", "198.51.100.20")}, http.StatusAccepted},
		{"other peer", []func(*http.Request){from("203.0.113.1:4000")}, http.StatusForbidden},
		{"other peer forging the header", []func(*http.Request){from("203.0.113.1:4000", "198.51.100.20")}, http.StatusForbidden},
		{"other source behind the ingress", []func(*http.Request){from("10.1.2.3:80", "203.0.113.1")}, http.StatusForbidden},
		{"other source prepending an allowed address", []func(*http.Request){from("10.1.2.3:80", "198.51.100.20, 203.0.113.1")}, http.StatusForbidden},
		{"the ingress itself, not on the list", []func(*http.Request){from("10.1.2.3:80")}, http.StatusForbidden},
		{"other peer, no token: 403 before 401", []func(*http.Request){from("203.0.113.1:4000"), noAuth}, http.StatusForbidden},
		{"allowed peer, no token", []func(*http.Request){from("198.51.100.20:4000"), noAuth}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := r.post(t, ticketBody, tc.edit...)
			switch tc.code {
			case http.StatusAccepted:
				expect(t, rec, tc.code, outcomeIgnored)
			case http.StatusForbidden:
				expect(t, rec, tc.code, "source address is not allowed")
			default:
				expect(t, rec, tc.code, "credentials")
			}
		})
	}
}
