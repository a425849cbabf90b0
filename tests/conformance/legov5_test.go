package conformance_test

import (
	"strings"
	"testing"
	"time"
)

// lego5Mode is a way of running cmd/lego5-client.
type lego5Mode struct {
	name  string
	flags []string
	// persist: dns-persist-01 (the record _validation-persist.DOMAIN)
	// instead of dns-01.
	persist bool
}

var lego5Modes = []lego5Mode{
	// lego v5's default check: TXT through the resolvers (RD set), then
	// SOA walk and NS through them, the nameserver addresses through the
	// system resolver, and TXT to each authoritative server on port 53.
	{name: "default"},
	// --dns.propagation.disable-ans: only the resolvers are asked.
	{name: "recursive-only", flags: []string{"-disable-ans"}},
	// LEGO_EXPERIMENTAL_DNS_TCP_ONLY: every question lego sends over TCP.
	{name: "tcp-only", flags: []string{"-tcp-only"}},
	// --dns-persist with its default checks (resolvers, then the
	// authoritative servers), solved for pebble's dns-persist-01.
	{name: "dns-persist-01", flags: []string{"-persist"}, persist: true},
}

// lego v5 (the library at the version go.mod pins, wired as its CLI wires
// it) obtains a certificate for a zone and its wildcard from pebble (the
// module proxy's), resolving through CoreDNS with acmeforward in recursive
// and authoritative mode, with its default checks, with the resolvers only,
// over TCP only, and for dns-persist-01; through the same CoreDNS without
// acmeforward each of them fails.
func TestLegoV5(t *testing.T) {
	t.Parallel()
	bin := goBuild(t, "./cmd/lego5-client")
	cw := newClientWorld(t)
	rec := newRecorder(t)
	domains := []string{zone, "*." + zone}
	client := "lego-" + lego5Version
	for _, c := range cw.withAcmeforward() {
		for _, m := range lego5Modes {
			t.Run(c.label+"/"+m.name, func(t *testing.T) {
				ql := beginLog(c)
				r := clientRun{cw: cw, c: c, bin: bin, flags: append([]string{"-dns-timeout", "2"}, m.flags...), domains: domains, propLimit: 30}.run(t)
				ls := ql.end(t)
				if r.code != 0 {
					t.Fatalf("lego v5 failed through %s (acmeforward %s):\n%s\nexec log:\n%s\nlookups through CoreDNS:\n%s", c.Server, c.label, r, r.execLog, formatLookups(ls))
				}
				t.Logf("lego v5 took %v", r.took.Round(time.Millisecond))
				r.wantCert(t, domains)
				challenge := "_acme-challenge." + zone + "."
				if m.persist {
					challenge = "_validation-persist." + zone + "."
				}
				// dns-01: one record per domain, written by the exec script.
				// dns-persist-01: a record with policy=wildcard, which lego
				// then finds for the apex too if it solved the wildcard
				// first; else one for the apex before it.
				n := strings.Count(r.execLog, "present "+challenge+" ")
				switch {
				case !m.persist && n != len(domains):
					t.Errorf("exec script: %d presents at %s, want %d\n%s", n, challenge, len(domains), r.execLog)
				case m.persist && (n < 1 || n > len(domains) || !strings.Contains(r.execLog, "; policy=wildcard\n")):
					t.Errorf("exec script: %d presents at %s, want 1 or 2, one with policy=wildcard\n%s", n, challenge, r.execLog)
				}
				if !has(ls, "TXT", challenge) {
					t.Errorf("no TXT lookup of %s through CoreDNS\n%s", challenge, formatLookups(ls))
				}
				// The authoritative check finds the servers through CoreDNS;
				// the recursive-only one does not look for them.
				lookedForNS := has(ls, "NS", zone+".")
				if wantNS := m.name != "recursive-only"; lookedForNS != wantNS {
					t.Errorf("NS lookup of %s through CoreDNS: %v, want %v\n%s", zone, lookedForNS, wantNS, formatLookups(ls))
				}
				if wantNS := m.name != "recursive-only"; wantNS && !has(ls, "A", "ns1."+zone+".") {
					t.Errorf("no A lookup of ns1.%s through CoreDNS\n%s", zone, formatLookups(ls))
				}
				if m.name == "tcp-only" {
					if bad := onlyTCP(ls); len(bad) > 0 {
						t.Errorf("lookups not over TCP:\n%s", formatLookups(bad))
					}
				}
				rec.add(client, m.name, c.label, ls)
			})
		}
	}

	// Negative controls: without acmeforward every mode fails (a short
	// propagation timeout bounds the wait).
	for _, m := range lego5Modes {
		t.Run("without-acmeforward/"+m.name, func(t *testing.T) {
			r := clientRun{cw: cw, c: cw.without, bin: bin, flags: append([]string{"-dns-timeout", "2"}, m.flags...), domains: domains, propLimit: 3}.run(t)
			why := r.wantFailed(t, domains)
			if !strings.Contains(r.output, "time limit exceeded: last error: recursive nameservers: NS "+cw.without.Addr.String()) {
				t.Fatalf("lego v5 did not fail in its propagation check at the resolver:\n%s", r)
			}
			t.Logf("fails as it should: %s", why)
		})
	}
}
