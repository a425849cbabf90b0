package e2e_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// Names at or below a protected zone (cluster.local by default, corp.internal
// with `protect`) keep the internal answer even when they look like
// challenge names and no zone is listed (every other zone's challenge is
// forwarded), and their ancestors' SOA and NS are never learned. knot has a
// public "shadow" of both zones, with a TXT at each challenge name, so a
// forwarded lookup shows.
func TestProtectedZones(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t)
	w := world.New(t, poisonOptions(t))
	resolver := w.UnboundT(t, true)
	for _, upstream := range []string{"recursive", "authoritative"} {
		t.Run(upstream, func(t *testing.T) {
			acme := world.Acme{To: []netip.AddrPort{w.Knot.Addr}, Timeout: "1s", MaxTTL: 30, Protect: []string{"corp.internal"}}
			if upstream == "authoritative" {
				acme.To = []netip.AddrPort{resolver.Addr}
				acme.UpstreamMode = "authoritative"
				acme.AllowNS = []string{"127.0.0.0/8"}
			}
			addr := world.Addr(t)
			s := w.CoreDNST(t, world.CoreDNS{Name: "coredns-protect", Binary: bin, Corefile: world.ClusterCorefile(addr, w.Dnsmasq.Addr, acme.String()), Addr: addr})

			// Forwarding works: a challenge outside the protected zones.
			world.WantTXT(t, ask(t, digUDP, s, "_acme-challenge.example.com", "TXT"), poisonToken("example.com"))

			// The lookups of a propagation check for each protected challenge
			// name first; then each name and its ancestors are compared with
			// dnsmasq's answer.
			var names []string
			for _, h := range []poisonHost{phIngress, phDB} {
				challenge := "_acme-challenge." + h.name
				propagationLookups(t, s, challenge)
				for a := challenge; a != ""; a = parent(a) {
					names = append(names, a)
				}
			}
			for _, n := range names {
				for _, typ := range []string{"TXT", "CNAME", "SOA", "NS", "A"} {
					got := rrView(ask(t, digUDP, s, n, typ))
					if want := rrView(ask(t, digUDP, w.Dnsmasq, n, typ)); got != want {
						t.Errorf("%s %s through CoreDNS: %s, internal %s", n, typ, got, want)
					}
				}
			}
		})
	}
}

// A listed or delegated zone inside a protected zone, and a bad protect or
// allow_ns line, stop CoreDNS at start-up: non-zero exit, and the message
// names the Corefile, the line and the reason.
func TestProtectCorefile(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t)
	w := world.New(t, world.Standard())
	dir := t.TempDir()
	knot := w.Knot.Addr.String()

	// Line numbers:   1          2      3        4                 5        6    7    8   9         10
	// .:PORT { / bind / errors / acmeforward ZONES { / to KNOT / L6 / L7 / } / forward / }
	write := func(name, zones, l6, l7 string) (path, text string, addr netip.AddrPort) {
		addr = world.Addr(t)
		text = fmt.Sprintf(".:%d {\n    bind %s\n    errors\n    acmeforward %s {\n        to %s\n        %s\n        %s\n    }\n    forward . %s\n}\n",
			addr.Port(), addr.Addr(), zones, knot, l6, l7, w.Dnsmasq.Addr)
		path = filepath.Join(dir, name+".Corefile")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path, text, addr
	}

	// Good protect and allow_ns lines start: each failure below is the
	// changed line's.
	t.Run("good", func(t *testing.T) {
		path, _, addr := write("good", "example.com", "protect corp.internal internal.example.org", "allow_ns 127.0.0.0/8 10.0.0.0/8 fd00::/8 192.0.2.53")
		s := w.CoreDNST(t, world.CoreDNS{Name: "coredns-good-protect-corefile", Binary: bin, ConfPath: path, Addr: addr})
		world.WantTXT(t, ask(t, digUDP, s, world.ExampleCom.Challenge(), "TXT"), world.ExampleCom.Token)
	})

	for _, tc := range []struct {
		name          string
		zones, l6, l7 string
		lines         []int    // the error names one of these lines
		token         string   // must appear in the message ("" for none)
		reason        []string // each must appear (case-insensitive; alternatives split by |)
	}{
		{"listed zone inside cluster.local", "svc.cluster.local", "timeout 1s", "max_ttl 30", []int{4}, "", []string{"protected"}},
		{"listed zone is a protected zone", "in-addr.arpa", "timeout 1s", "max_ttl 30", []int{4}, "", []string{"protected"}},
		{"listed zone inside localhost", "example.com foo.localhost", "timeout 1s", "max_ttl 30", []int{4}, "", []string{"protected"}},
		{"listed zone inside a protect zone", "db.corp.internal", "protect corp.internal", "max_ttl 30", []int{4, 6}, "", []string{"protected"}},
		{"delegated zone inside cluster.local", "example.com", "delegated acme.svc.cluster.local", "max_ttl 30", []int{4, 6}, "", []string{"protected"}},
		{"delegated zone inside ip6.arpa", "example.com", "delegated 8.b.d.0.1.0.0.2.ip6.arpa", "max_ttl 30", []int{4, 6}, "", []string{"protected"}},
		{"delegated zone inside a protect zone", "example.com", "protect corp.internal", "delegated acme.corp.internal", []int{4, 6, 7}, "", []string{"protected"}},
		{"protect the root", "example.com", "protect .", "max_ttl 30", []int{6}, "", []string{"root"}},
		{"protect without a zone", "example.com", "protect", "max_ttl 30", []int{6}, "", []string{"protect", "argument|zone"}},
		{"allow_ns not a network", "example.com", "allow_ns not-a-net", "max_ttl 30", []int{6}, "not-a-net", []string{"allow_ns"}},
		{"allow_ns prefix too long", "example.com", "allow_ns 127.0.0.0/33", "max_ttl 30", []int{6}, "127.0.0.0/33", []string{"allow_ns"}},
		{"allow_ns without a network", "example.com", "allow_ns", "max_ttl 30", []int{6}, "", []string{"allow_ns", "argument|network"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, text, _ := write(strings.ReplaceAll(tc.name, " ", "-"), tc.zones, tc.l6, tc.l7)
			msg := wantStartupError(t, bin, dir, path, text, tc.lines, tc.token, tc.reason)
			if lower := strings.ToLower(msg); strings.Contains(lower, "unknown option") || strings.Contains(lower, "unknown property") {
				t.Fatalf("protect or allow_ns is not a known option of this binary\n--- output ---\n%s", msg)
			}
		})
	}
}
