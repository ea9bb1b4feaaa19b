package webhookreceiver

import (
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds the X-Forwarded-For entries looked at.
const maxForwardedHops = 32

// sourceAddr is the address a delivery came from. The TCP peer is the
// source unless it is a trusted proxy; then X-Forwarded-For is read from the
// right (the entries the trusted proxies appended) and the first address
// that is not itself a trusted proxy is the source. Entries further left
// were written by the client and prove nothing. An unparsable entry where
// the source should be yields the zero Addr, which no allowlist contains.
func sourceAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap().WithZone("")
	if !contains(trusted, addr) {
		return addr
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(h, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		hop, err := netip.ParseAddr(hops[i])
		if err != nil {
			return netip.Addr{}
		}
		addr = hop.Unmap().WithZone("")
		if !contains(trusted, addr) {
			return addr
		}
	}
	// Every hop is a trusted proxy: the left-most one is as close to the
	// source as anything we know.
	return addr
}

// contains reports whether any prefix contains addr.
func contains(prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// checkSource answers 403 when an allowlist is configured and the source is
// not on it.
func (s *Server) checkSource(r *http.Request) error {
	if len(s.opts.AllowedCIDRs) == 0 {
		return nil
	}
	if !contains(s.opts.AllowedCIDRs, sourceAddr(r, s.opts.TrustedProxies)) {
		return errForbiddenSource()
	}
	return nil
}
