package conformance_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// cmMode is a mode of cert-manager's DNS-01 self check.
type cmMode struct {
	name  string
	flags []string
}

var cmModes = []cmMode{
	// --dns01-recursive-nameservers-only: TXT to the pod's resolver.
	{"recursive-only", []string{"-recursive-only"}},
	// The default: SOA walk, NS, nameserver addresses through the resolver,
	// then TXT to each authoritative server on port 53.
	{"authoritative", nil},
}

// runCheck runs cert-manager's check once in a pod whose resolver is c.
func runCheck(t *testing.T, c *coreDNS, domain, key string, m cmMode) podResult {
	t.Helper()
	argv := append([]string{checker(t), "-domain", domain, "-key", key, "-dns-timeout", "1s", "-timeout", "15s", "-v"}, m.flags...)
	r := runInPod(t, c.resolvConf, nil, 30*time.Second, argv...)
	// The check read the pod's resolv.conf: its nameservers are c's (unless
	// the mode names its own, as --dns01-recursive-nameservers does).
	want := fmt.Sprintf("nameservers %s (from /etc/resolv.conf)", c.Addr)
	for i, f := range m.flags {
		if f == "-nameservers" && i+1 < len(m.flags) {
			want = fmt.Sprintf("nameservers %s (from -nameservers)", m.flags[i+1])
		}
	}
	if !strings.Contains(r.output, want) {
		t.Fatalf("the checker did not use the nameservers it was given (want %q):\n%s", want, r)
	}
	if r.code != 0 && r.code != 1 {
		t.Fatalf("the checker did not run to a verdict:\n%s", r)
	}
	return r
}

// challenge is a challenge the tests check.
type challenge struct {
	name   string
	domain string // Challenge.spec.dnsName
	key    string
	// fqdn holds the TXT: _acme-challenge.<domain>, or the CNAME target.
	fqdn string
	// apex is the zone that holds fqdn.
	apex string
}

var (
	apexChallenge = challenge{"apex", zone, apexToken, "_acme-challenge." + zone + ".", zone}
	cnameChall    = challenge{"CNAME-delegated", wwwDomain, delegToken, cnameTarget + ".", authZone}
)

// wantLookups checks what a passing check asked CoreDNS: the challenge
// through it (recursive-only), or the discovery through it and the TXT not
// (authoritative: the TXT went to knot on port 53 directly).
func wantLookups(t *testing.T, ch challenge, m cmMode, ls []lookup) {
	t.Helper()
	if ch.fqdn != "_acme-challenge."+ch.domain+"." && !has(ls, "CNAME", "_acme-challenge."+ch.domain+".") {
		t.Errorf("no CNAME lookup of _acme-challenge.%s through CoreDNS", ch.domain)
	}
	switch m.name {
	case "recursive-only":
		if !has(ls, "TXT", ch.fqdn) {
			t.Errorf("no TXT lookup of %s through CoreDNS", ch.fqdn)
		}
	case "authoritative":
		for _, want := range [][2]string{{"SOA", ch.apex + "."}, {"NS", ch.apex + "."}, {"A", "ns1." + ch.apex + "."}} {
			if !has(ls, want[0], want[1]) {
				t.Errorf("no %s lookup of %s through CoreDNS", want[0], want[1])
			}
		}
		if has(ls, "TXT", ch.fqdn) {
			t.Errorf("the TXT of %s went through CoreDNS: the authoritative check asks knot directly", ch.fqdn)
		}
	}
	if t.Failed() {
		t.Logf("lookups through CoreDNS:\n%s", formatLookups(ls))
	}
}

// cert-manager's own self check (pkg/issuer/acme/dns/util, pinned release)
// in both modes, for a challenge at the apex and one CNAME'd into another
// hidden zone, through three acmeforward configurations; then the same
// checks through the same CoreDNS without acmeforward, which must fail.
func TestCertManager(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	checker(t)
	w := world.New(t, conformanceOptions(t))
	caching := w.UnboundT(t, false)
	rec := newRecorder(t)
	configs := []*coreDNS{
		startCoreDNS(t, w, "coredns-recursive", "recursive", recursiveBlock(w).String()),
		startCoreDNS(t, w, "coredns-learned", "recursive-learned", learnedBlock(w).String()),
		startCoreDNS(t, w, "coredns-authoritative", "authoritative", authoritativeBlock(caching.Addr).String()),
	}
	without := startCoreDNS(t, w, "coredns-without", "without", "")
	noDiscovery := recursiveBlock(w)
	noDiscovery.Discovery = "off"
	discoveryOff := startCoreDNS(t, w, "coredns-discovery-off", "discovery-off", noDiscovery.String())

	for _, c := range configs {
		for _, ch := range []challenge{apexChallenge, cnameChall} {
			for _, m := range cmModes {
				t.Run(c.label+"/"+ch.name+"/"+m.name, func(t *testing.T) {
					ql := beginLog(c)
					r := runCheck(t, c, ch.domain, ch.key, m)
					ls := ql.end(t)
					if r.code != 0 {
						t.Fatalf("cert-manager's check failed through %s (acmeforward %s):\n%s\nlookups through CoreDNS:\n%s", c.Server, c.label, r, formatLookups(ls))
					}
					wantLookups(t, ch, m, ls)
					rec.add("cert-manager", m.name, c.label+"/"+ch.name, ls)
				})
			}
		}
	}

	// With `discovery off` only the challenge (and delegation) questions go
	// out: the resolvers-only check passes, the default one cannot find the
	// zone's nameservers.
	t.Run("discovery-off/apex/recursive-only", func(t *testing.T) {
		if r := runCheck(t, discoveryOff, zone, apexToken, cmModes[0]); r.code != 0 {
			t.Fatalf("cert-manager's resolvers-only check failed with discovery off:\n%s", r)
		}
	})
	t.Run("discovery-off/apex/authoritative", func(t *testing.T) {
		r := runCheck(t, discoveryOff, zone, apexToken, cmModes[1])
		if r.code != 1 {
			t.Fatalf("cert-manager's authoritative check passed with discovery off:\n%s", r)
		}
		t.Logf("fails as it should: %s", lastLine(r.output, "FAIL: "))
	})

	for _, ch := range []challenge{apexChallenge, cnameChall} {
		for _, m := range cmModes {
			t.Run("without-acmeforward/"+ch.name+"/"+m.name, func(t *testing.T) {
				r := runCheck(t, without, ch.domain, ch.key, m)
				if r.code != 1 || !strings.Contains(r.output, "FAIL: ") {
					t.Fatalf("cert-manager's check did not fail through CoreDNS without acmeforward:\n%s", r)
				}
				t.Logf("fails as it should: %s", lastLine(r.output, "FAIL: "))
			})
		}
	}
}

// lineWith is the last line of out that holds s.
func lineWith(out, s string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}

// lastLine is the last line of out that starts with prefix.
func lastLine(out, prefix string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], prefix) {
			return lines[i]
		}
	}
	return ""
}

// earlyLimit bounds the wait for a check to pass after the record is added:
// max_ttl (what anything below acmeforward may keep a negative answer for)
// plus room for a slow machine. Not a timing assertion: a bound.
const earlyLimit = (maxTTL + 20) * time.Second

// The "asked too early" case: a first check before the TXT exists fails;
// the TXT is then added to knot by dynamic update, and a check passes again
// within a bounded number of retries. Three ways:
//   - recursive: acmeforward in recursive mode, to knot;
//   - node-cache: the same behind a caching CoreDNS (as NodeLocal DNSCache
//     in front of the cluster's CoreDNS): the negative answer it keeps has
//     the TTL acmeforward gave it, at most max_ttl (without the cap it
//     would keep it for the cache's 30 s, past earlyLimit);
//   - authoritative: acmeforward in authoritative mode behind a caching
//     resolver that has cached the NXDOMAIN (it still gives NXDOMAIN after
//     the update: the case authoritative mode is for).
func TestCertManagerAskedTooEarly(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	checker(t)
	w := world.New(t, conformanceOptions(t))
	caching := w.UnboundT(t, false)
	rec := newRecorder(t)
	recursive := startCoreDNS(t, w, "coredns-recursive", "recursive", recursiveBlock(w).String())
	authoritative := startCoreDNS(t, w, "coredns-authoritative", "authoritative", authoritativeBlock(caching.Addr).String())
	nodeCache := startNodeCache(t, w, recursive)

	n := 0
	for _, sc := range []struct {
		label string
		pod   *coreDNS // in the pod's resolv.conf
		afwd  *coreDNS // the CoreDNS with acmeforward (its query log)
	}{
		{"recursive", recursive, recursive},
		{"node-cache+recursive", nodeCache, recursive},
		{"authoritative", authoritative, authoritative},
	} {
		for _, m := range cmModes {
			n++
			domain := fmt.Sprintf("late%d.%s", n, zone)
			name := "_acme-challenge." + domain
			key := fmt.Sprintf("cm-token-late-%d", n)
			t.Run(sc.label+"/"+m.name, func(t *testing.T) {
				if sc.afwd == authoritative {
					// The resolvers behind `to` were asked before the record
					// existed (a client that checked through them) and
					// cache the NXDOMAIN for the zone's SOA MINIMUM.
					r, err := world.Dig(world.Query{Server: caching.Addr, Name: name, Type: "TXT"})
					if err != nil || r.Rcode != "NXDOMAIN" {
						t.Fatalf("priming the caching resolver: %v\n%v", err, r)
					}
				}
				r := runCheck(t, sc.pod, domain, key, m)
				if r.code != 1 {
					t.Fatalf("the check passed before the record existed:\n%s", r)
				}
				t.Logf("before the update: %s", lastLine(r.output, "FAIL: "))
				// The negative answer through acmeforward carries a TTL of
				// at most max_ttl.
				neg, err := world.Dig(world.Query{Server: sc.afwd.Addr, Name: name, Type: "TXT"})
				if err != nil {
					t.Fatal(err)
				}
				if neg.Rcode != "NXDOMAIN" || len(neg.Authority) == 0 {
					t.Fatalf("want NXDOMAIN with the SOA through acmeforward\n%s", neg)
				}
				for _, rr := range neg.Authority {
					if rr.TTL > maxTTL {
						t.Fatalf("negative answer's %s TTL %d > max_ttl %d\n%s", rr.Type, rr.TTL, maxTTL, neg)
					}
				}

				if err := w.UpdateTXT(zone, name, 60, key); err != nil {
					t.Fatal(err)
				}
				if sc.afwd == authoritative {
					cached, err := world.Dig(world.Query{Server: caching.Addr, Name: name, Type: "TXT"})
					if err != nil {
						t.Fatal(err)
					}
					if cached.Rcode != "NXDOMAIN" {
						t.Fatalf("the caching resolver gives %s right after the update: it did not cache the NXDOMAIN, the test would show nothing\n%s", cached.Rcode, cached)
					}
					t.Logf("the caching resolver still gives NXDOMAIN after the update (cached)")
				}
				deadline := time.Now().Add(earlyLimit)
				tries := 0
				var ql queryLog
				for {
					tries++
					ql = beginLog(sc.afwd)
					r = runCheck(t, sc.pod, domain, key, m)
					if r.code == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the check still fails %v after the update (%d tries):\n%s", earlyLimit, tries, r)
					}
					time.Sleep(250 * time.Millisecond)
				}
				t.Logf("passes after the update (try %d)", tries)
				// The lookups of the passing check that reached acmeforward's
				// CoreDNS.
				ls := ql.end(t)
				if sc.pod == sc.afwd {
					wantLookups(t, challenge{"late", domain, key, name + ".", zone}, m, ls)
				}
				rec.add("cert-manager", m.name, sc.label+"/asked-too-early", ls)
			})
		}
	}
}
