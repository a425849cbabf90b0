package conformance_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// certmagicMode is a mode of certmagic's propagation check (DNSManager.wait).
type certmagicMode struct {
	name string
	// resolvers: Caddy's `resolvers`, the pod's CoreDNS given explicitly.
	resolvers bool
}

var (
	// certmagic's default (no `resolvers`): TXT through the nameservers of
	// /etc/resolv.conf, SOA walk and NS through them, then TXT to each NS
	// host, by name on port 53 (resolved by the system resolver); it passes
	// on the first one that has the value.
	certmagicAuthoritative = certmagicMode{"authoritative", false}
	// With `resolvers`: the TXT is asked of them only.
	certmagicRecursiveOnly = certmagicMode{"recursive-only", true}
)

// certmagicRun is one run of cmd/certmagic-check in a pod whose resolver is
// c, writing at knot by dynamic update.
type certmagicRun struct {
	c        *coreDNS
	knot     *world.Server
	domains  []string
	mode     certmagicMode
	override string        // Caddy's override_domain ("" for none)
	pebble   *world.Pebble // obtain certificates from it (nil: Present/Wait only)
	// propagation is PropagationTimeout: how long Wait checks.
	propagation time.Duration
}

func (r certmagicRun) run(t *testing.T) podResult {
	t.Helper()
	if certmagicErr != nil {
		t.Fatal(certmagicErr)
	}
	argv := []string{certmagicBin, "-domains", strings.Join(r.domains, ","), "-update", r.knot.Addr.String(),
		"-propagation-timeout", r.propagation.String(), "-v"}
	if r.mode.resolvers {
		argv = append(argv, "-resolvers", r.c.Addr.String())
	}
	if r.override != "" {
		argv = append(argv, "-override-domain", r.override)
	}
	if r.pebble != nil {
		argv = append(argv, "-directory", r.pebble.DirectoryURL, "-ca-cert", r.pebble.CACert, "-storage", filepath.Join(t.TempDir(), "certmagic"))
	}
	res := runInPod(t, r.c.resolvConf, nil, r.propagation+90*time.Second, argv...)
	source := "/etc/resolv.conf"
	if r.mode.resolvers {
		source = "-resolvers"
	}
	if want := fmt.Sprintf("nameservers %s (from %s)", r.c.Addr, source); !strings.Contains(res.output, want) {
		t.Fatalf("certmagic did not use the pod's resolver (want %q):\n%s", want, res)
	}
	if res.code != 0 && res.code != 1 {
		t.Fatalf("certmagic-check did not run to a verdict:\n%s", res)
	}
	return res
}

// presented is the TXT value certmagic-check wrote: `presented NAME. TXT "V"`.
var presented = regexp.MustCompile(`(?m)^presented (\S+) TXT "([^"]+)"$`)

// certmagic (Caddy's ACME library, the release pinned in go.mod): its
// DNS01Solver's Present, Wait and CleanUp, with a libdns provider that
// writes at knot by dynamic update, through CoreDNS with acmeforward in
// recursive mode (`to` knot, and `to` a recursive resolver) and in
// authoritative mode, in both modes of certmagic's check, at
// the apex and at a name in another hidden zone (override_domain, certmagic's
// way to delegate); a certificate for the zone and its wildcard from pebble
// with certmagic's own ACME issuer; and, through the same CoreDNS without
// acmeforward, the same Present/Wait failing.
func TestCertmagic(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	w := world.New(t, conformanceOptions(t))
	caching := w.UnboundT(t, false)
	pebbleKnot := w.PebbleT(t, w.Knot.Addr)
	rec := newRecorder(t)
	recursive := startCoreDNS(t, w, "coredns-recursive", "recursive", recursiveBlock(w).String())
	// Recursive mode as it is mostly deployed: `to` a recursive resolver
	// (one that keeps nothing), not the zone's primary.
	viaResolver := recursiveBlock(w)
	viaResolver.To = []netip.AddrPort{w.UnboundT(t, true).Addr}
	recursiveUnbound := startCoreDNS(t, w, "coredns-recursive-unbound", "recursive-to-unbound", viaResolver.String())
	authoritative := startCoreDNS(t, w, "coredns-authoritative", "authoritative", authoritativeBlock(caching.Addr).String())
	without := startCoreDNS(t, w, "coredns-without", "without", "")

	type scenario struct {
		name     string
		c        *coreDNS
		mode     certmagicMode
		override string
		apex     string // the zone that holds the TXT
	}
	apexFQDN := "_acme-challenge." + zone + "."
	for _, s := range []scenario{
		{"recursive/apex/authoritative", recursive, certmagicAuthoritative, "", zone},
		{"recursive/apex/recursive-only", recursive, certmagicRecursiveOnly, "", zone},
		{"recursive/override-domain/authoritative", recursive, certmagicAuthoritative, cnameTarget, authZone},
		{"recursive-to-unbound/apex/authoritative", recursiveUnbound, certmagicAuthoritative, "", zone},
		{"recursive-to-unbound/apex/recursive-only", recursiveUnbound, certmagicRecursiveOnly, "", zone},
		{"authoritative/apex/authoritative", authoritative, certmagicAuthoritative, "", zone},
		{"authoritative/apex/recursive-only", authoritative, certmagicRecursiveOnly, "", zone},
		{"authoritative/override-domain/authoritative", authoritative, certmagicAuthoritative, cnameTarget, authZone},
	} {
		t.Run(s.name, func(t *testing.T) {
			ql := beginLog(s.c)
			r := certmagicRun{c: s.c, knot: w.Knot, domains: []string{zone}, mode: s.mode, override: s.override, propagation: 20 * time.Second}.run(t)
			ls := ql.end(t)
			if r.code != 0 {
				t.Fatalf("certmagic's Present/Wait failed through %s (acmeforward %s):\n%s\nlookups through CoreDNS:\n%s", s.c.Server, s.c.label, r, formatLookups(ls))
			}
			m := presented.FindStringSubmatch(r.output)
			if m == nil {
				t.Fatalf("no `presented` line:\n%s", r)
			}
			fqdn, value := m[1], m[2]
			want := apexFQDN
			if s.override != "" {
				want = s.override + "."
			}
			if fqdn != want {
				t.Fatalf("certmagic wrote at %s, want %s", fqdn, want)
			}
			// CleanUp removed the value from knot (it was there for Wait).
			knot, err := world.Dig(world.Query{Server: w.Knot.Addr, Name: fqdn, Type: "TXT"})
			if err != nil {
				t.Fatal(err)
			}
			for _, rr := range knot.Answer {
				if strings.Contains(rr.Data, value) {
					t.Errorf("knot still holds %s TXT %q after CleanUp", fqdn, value)
				}
			}
			// Present's SOA walk and the first TXT of each check go through
			// CoreDNS in both modes; the authoritative check asks it for the
			// NS and their hosts' addresses, then knot for the TXT.
			wants := [][2]string{{"SOA", s.apex + "."}, {"TXT", fqdn}}
			if s.mode == certmagicAuthoritative {
				wants = append(wants, [2]string{"NS", s.apex + "."}, [2]string{"A", "ns1." + s.apex + "."})
			}
			for _, want := range wants {
				if !has(ls, want[0], want[1]) {
					t.Errorf("no %s lookup of %s through CoreDNS\n%s", want[0], want[1], formatLookups(ls))
				}
			}
			t.Logf("certmagic took %v", r.took.Round(time.Millisecond))
			rec.add("certmagic", s.mode.name, s.c.label+"/"+strings.Split(s.name, "/")[1], ls)
		})
	}

	t.Run("recursive/obtain-apex+wildcard/authoritative", func(t *testing.T) {
		domains := []string{zone, "*." + zone}
		ql := beginLog(recursive)
		r := certmagicRun{c: recursive, knot: w.Knot, domains: domains, mode: certmagicAuthoritative, pebble: pebbleKnot, propagation: 20 * time.Second}.run(t)
		ls := ql.end(t)
		if r.code != 0 {
			t.Fatalf("certmagic did not obtain the certificates through %s:\n%s\nlookups through CoreDNS:\n%s", recursive.Server, r, formatLookups(ls))
		}
		for _, d := range domains {
			if want := fmt.Sprintf("certificate for %s: names %s, issuer ", d, d); !strings.Contains(r.output, want) {
				t.Errorf("no certificate for exactly %s (want %q):\n%s", d, want, r)
			}
		}
		t.Logf("%s", lineWith(r.output, "PASS: "))
		rec.add("certmagic", certmagicAuthoritative.name, "recursive/obtain", ls)
	})

	// Negative controls: without acmeforward the SOA walk sees the internal
	// view (here no SOA for the zone, then REFUSED for its parent), so
	// certmagic cannot find the zone to write in; with an internal view that
	// has an SOA its check would never see the record, PropagationTimeout
	// bounding the wait. Either failure is accepted, no other.
	for _, m := range []certmagicMode{certmagicAuthoritative, certmagicRecursiveOnly} {
		t.Run("without-acmeforward/apex/"+m.name, func(t *testing.T) {
			r := certmagicRun{c: without, knot: w.Knot, domains: []string{zone}, mode: m, propagation: 6 * time.Second}.run(t)
			if r.code != 1 || strings.Contains(r.output, "PASS: ") {
				t.Fatalf("certmagic's Present/Wait passed through CoreDNS without acmeforward:\n%s", r)
			}
			if !strings.Contains(r.output, "could not determine zone") && !strings.Contains(r.output, "timed out waiting for record") {
				t.Fatalf("certmagic failed, but not for want of the public view:\n%s", r)
			}
			t.Logf("fails as it should: %s", lastLine(r.output, "FAIL: "))
		})
	}
}
