package e2e_test

// The HTTP-01 hairpin: a cluster behind a load balancer VIP with no
// hairpin NAT. www.example.com resolves to the VIP (knot's public A,
// 192.0.2.80, TEST-NET: never connected to) everywhere, so cert-manager's
// HTTP-01 self check from inside the cluster times out. With
// `hairpin www.example.com <ingress>` in the acmeforward block, the cluster's
// CoreDNS answers the name with the ingress controller's address.
//
// The server block of these tests: `forward . <knot>` (every name gets its
// public answer), the acmeforward block with hairpin lines, and `hosts` and
// `template` answering cluster.local names in place of `kubernetes` (the
// ingress controller's Service and a few others). Nothing here connects to an
// address outside 127.0.0.0/8: the HTTP client refuses such addresses before
// dialing and fails the test.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// hpZone is the public zone at knot: the standard example.com plus the
// records these tests look for. Every address in it is answer data.
var hpZone = func() world.Zone {
	z := world.ExampleCom
	z.Extra = []string{
		"@        IN A    192.0.2.1",
		"www      IN AAAA 2001:db8::80",
		`www      IN TXT  "public-www-txt"`,
		"www      IN MX   10 mail",
		"mail     IN A    192.0.2.25",
		"a        IN A    192.0.2.10",
		"b.c      IN A    192.0.2.11",
		"exact    IN A    192.0.2.12",
		"x.deep   IN A    192.0.2.13",
	}
	return z
}()

const (
	hpVIP       = "192.0.2.80" // www's public A: the load balancer VIP (hpZone.WWWAddr)
	hpVIP6      = "2001:db8::80"
	hpApexAddr  = "192.0.2.1"
	hpPublicTXT = "public-www-txt"

	// In-cluster names, answered by hosts/template (standing in for kubernetes).
	hpIngressSvc   = "ingress-nginx-controller.ingress-nginx.svc.cluster.local" // hosts: A only
	hpIngressV6Svc = "ingress-v6.ingress-nginx.svc.cluster.local"               // hosts: AAAA ::1 only
	hpAliasSvc     = "ingress-alias.ingress-nginx.svc.cluster.local"            // template: CNAME → hpAliasTarget, its A
	hpAliasTarget  = "ingress-alias-target.ingress-nginx.svc.cluster.local"
	hpNoSuchSvc    = "nosuch.ingress-nginx.svc.cluster.local" // template: NXDOMAIN (a Service that does not exist)
	hpUnknownSvc   = "unknown.elsewhere.svc.cluster.local"    // nobody inside answers: forward → knot → REFUSED

	hpHostsTTL      = 300 // hosts' TTL, above the main max_ttl
	hpAliasATTL     = 7   // the A at the end of the template's chain, below every max_ttl
	hpAliasCNAMETTL = 300

	// Answer data for hairpin targets in the DNS-level tests (never
	// connected to).
	hpAddrWWW     = "127.0.80.1"
	hpAddrWild    = "127.0.80.2"
	hpAddrExact   = "127.0.80.3"
	hpAddrDeep    = "127.0.80.4"
	hpAddrDual    = "127.0.80.5"
	hpAddrMultiA  = "127.0.80.6"
	hpAddrMultiB  = "127.0.80.7"
	hpAddrIngress = "127.0.80.8"
	hpAddrAlias   = "127.0.80.9"
	hpAddrV6      = "::1"
)

// hpName is a name in hpZone.
func hpName(label string) string {
	if label == "" {
		return hpZone.Name
	}
	return label + "." + hpZone.Name
}

// hpConf says how one CoreDNS of these tests differs from the others.
type hpConf struct {
	name     string
	maxTTL   int            // < 0: the default
	hairpins []string       // the arguments of each hairpin line
	ingress  string         // the ingress Service's address (hosts)
	cache    bool           // `cache 30` in the server block, as in a real cluster
	metrics  netip.AddrPort // `prometheus ADDR` when valid
}

// hpCorefile is the server block: acmeforward with the hairpin lines, the
// in-cluster names (template, hosts), everything else to knot.
func hpCorefile(listen, knot netip.AddrPort, hostsFile string, c hpConf) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".:%d {\n    bind %s\n    errors\n    log\n", listen.Port(), listen.Addr())
	if c.metrics.IsValid() {
		fmt.Fprintf(&b, "    prometheus %s\n", c.metrics)
	}
	b.WriteString(world.Acme{Zones: []string{hpZone.Name}, To: []netip.AddrPort{knot}, Timeout: "500ms", MaxTTL: c.maxTTL, Hairpins: c.hairpins}.String())
	if c.cache {
		fmt.Fprintf(&b, "    cache 30\n")
	}
	// A Service behind a CNAME (as an ExternalName Service gives), and a
	// Service that does not exist (kubernetes' NXDOMAIN).
	fmt.Fprintf(&b, "    template IN A svc.cluster.local {\n")
	fmt.Fprintf(&b, "        match ^%s\\.$\n", strings.ReplaceAll(hpAliasSvc, ".", `\.`))
	fmt.Fprintf(&b, "        answer \"{{ .Name }} %d IN CNAME %s.\"\n", hpAliasCNAMETTL, hpAliasTarget)
	fmt.Fprintf(&b, "        answer \"%s. %d IN A %s\"\n", hpAliasTarget, hpAliasATTL, hpAddrAlias)
	fmt.Fprintf(&b, "        fallthrough\n    }\n")
	fmt.Fprintf(&b, "    template IN ANY %s {\n        rcode NXDOMAIN\n", hpNoSuchSvc)
	fmt.Fprintf(&b, "        authority \"cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30\"\n    }\n")
	// The ingress controller's Service: an A, no AAAA; a v6-only Service.
	fmt.Fprintf(&b, "    hosts %s cluster.local {\n", hostsFile)
	fmt.Fprintf(&b, "        %s %s\n", c.ingress, hpIngressSvc)
	fmt.Fprintf(&b, "        %s %s\n", hpAddrV6, hpIngressV6Svc)
	fmt.Fprintf(&b, "        ttl %d\n        no_reverse\n        fallthrough\n    }\n", hpHostsTTL)
	fmt.Fprintf(&b, "    forward . %s\n}\n", knot)
	return b.String()
}

// hpWorld is knot with hpZone, nothing else.
func hpWorld(t *testing.T) *world.World {
	t.Helper()
	return world.New(t, world.Options{Zones: []world.Zone{hpZone}})
}

// hpStart starts a CoreDNS with hpCorefile in w (fails the test with its log
// if it does not start).
func hpStart(t *testing.T, w *world.World, bin string, c hpConf) *world.Server {
	t.Helper()
	hostsFile := filepath.Join(w.Dir, "hosts-empty")
	if err := os.WriteFile(hostsFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if c.name == "" {
		c.name = "coredns-hairpin"
	}
	if c.ingress == "" {
		c.ingress = hpAddrIngress
	}
	addr := world.Addr(t)
	return w.CoreDNST(t, world.CoreDNS{Name: c.name, Binary: bin, Corefile: hpCorefile(addr, w.Knot.Addr, hostsFile, c), Addr: addr})
}

// hpCanon is an address in its canonical text (dig and Go agree on IPv4;
// this makes IPv6 comparisons exact).
func hpCanon(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return s
}

// hpWantAddrs: a hairpin answer. NOERROR, AA clear, and the answer holds
// exactly the given addresses as typ records, each under owner exactly as
// the client wrote it (no CNAME, no other record), each with TTL ttl (when
// ttl >= 0).
func hpWantAddrs(t *testing.T, r *world.Response, owner, typ string, ttl int, addrs ...string) {
	t.Helper()
	world.WantRcode(t, r, "NOERROR")
	var got, want []string
	for _, rr := range r.Answer {
		if rr.Type != typ {
			t.Fatalf("answer holds a %s record; want only %s records under the client's name (no CNAME)\n%s", rr.Type, typ, r)
		}
		if rr.Name != owner+"." {
			t.Fatalf("answer owner %q, want the client's own name in its own case %q\n%s", rr.Name, owner+".", r)
		}
		if ttl >= 0 && rr.TTL != uint32(ttl) {
			t.Fatalf("%s TTL %d, want %d\n%s", typ, rr.TTL, ttl, r)
		}
		got = append(got, hpCanon(rr.Data))
	}
	for _, a := range addrs {
		want = append(want, hpCanon(a))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s %s: got %v, want %v\n%s", owner, typ, got, want, r)
	}
	if r.HasFlag("aa") {
		t.Errorf("AA set on a hairpin answer (acmeforward is not the authority for %s)\n%s", owner, r)
	}
}

// hpWantNodata: NOERROR with an empty answer section.
func hpWantNodata(t *testing.T, r *world.Response) {
	t.Helper()
	world.WantRcode(t, r, "NOERROR")
	if len(r.Answer) != 0 {
		t.Fatalf("want NODATA (NOERROR, empty answer)\n%s", r)
	}
}

// hpWantSOA: the authority holds one SOA with TTL ttl (when ttl >= 0): a
// negative answer from knot.
func hpWantSOA(t *testing.T, r *world.Response, ttl int) {
	t.Helper()
	if len(r.Authority) != 1 || r.Authority[0].Type != "SOA" {
		t.Fatalf("want knot's SOA in authority\n%s", r)
	}
	if ttl >= 0 && r.Authority[0].TTL != uint32(ttl) {
		t.Fatalf("SOA TTL %d, want %d\n%s", r.Authority[0].TTL, ttl, r)
	}
}

// hpDig runs dig against s with extra options (e.g. +norecurse).
func hpDig(t *testing.T, s *world.Server, name, typ string, opts ...string) *world.Response {
	t.Helper()
	r, err := world.Dig(world.Query{Server: s.Addr, Name: name, Type: typ, Opts: opts})
	if err != nil {
		t.Fatalf("dig: no usable reply from %s: %v", s, err)
	}
	return r
}

// hpSelfCheck does cert-manager's HTTP-01 self check through s and wants
// keyAuth back from web, for the request made to www.
func hpSelfCheck(t *testing.T, s *world.Server, web *world.HTTP01Server, www, token, keyAuth string) {
	t.Helper()
	sc, err := world.NewSelfChecker(s.Addr, func(host string, a netip.Addr) {
		t.Errorf("the self check resolved %s to %s through %s: outside 127.0.0.0/8, refused (nothing was sent)", host, a, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The resolver alone first: the pod sees the ingress address.
	addrs, err := sc.Resolver.LookupNetIP(ctx, "ip", www)
	if err != nil {
		t.Fatalf("resolving %s through %s: %v", www, s, err)
	}
	if want := []netip.Addr{web.Addr.Addr()}; !slices.Equal(addrs, want) {
		t.Fatalf("%s resolved through %s to %v, want %v (the ingress)", www, s, addrs, want)
	}

	before := web.Hits()
	body, err := sc.Check(ctx, www, token)
	if err != nil {
		t.Fatalf("self check through %s: %v", s, err)
	}
	if body != keyAuth {
		t.Fatalf("self check body %q, want %q", body, keyAuth)
	}
	if sc.DNSDials() == 0 {
		t.Fatalf("the resolver never asked %s", s)
	}
	if web.Hits() == before {
		t.Fatalf("the HTTP-01 server saw no request")
	}
	if hosts := web.Hosts(); hosts[len(hosts)-1] != www {
		t.Fatalf("the HTTP-01 server got Host %q, want %q", hosts[len(hosts)-1], www)
	}
}

// hpMetric sums the samples of a counter at a prometheus endpoint.
func hpMetric(t *testing.T, addr netip.AddrPort, name string) float64 {
	t.Helper()
	samples := metricSamples(t, addr, name)
	if len(samples) == 0 {
		t.Fatalf("no %s in the metrics at %s", name, addr)
	}
	var sum float64
	for _, v := range samples {
		sum += v
	}
	return sum
}

// The story end to end: cert-manager's self check, from a pod whose resolver
// is the cluster's CoreDNS, gets the token from the ingress controller (a
// net/http server on 127.x.y.z:80) instead of timing out on the VIP.
func TestHairpinSelfCheck(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t) // before anything starts
	w := hpWorld(t)
	const token = "hairpin-self-check-token"
	const keyAuth = token + ".hairpin-account-thumbprint"
	web := world.HTTP01T(t, map[string]string{token: keyAuth})
	www := hpName("www")
	ingress := web.Addr.Addr().String()

	// Without the hairpin line the name resolves to the VIP: the user's bug.
	// Only the DNS answers are looked at; nothing connects to the VIP.
	t.Run("negative control without hairpin", func(t *testing.T) {
		s := hpStart(t, w, bin, hpConf{name: "coredns-no-hairpin", maxTTL: 30, ingress: ingress})
		world.WantA(t, ask(t, digUDP, w.Knot, www, "A"), hpVIP)
		for _, c := range both {
			world.WantA(t, ask(t, c, s, www, "A"), hpVIP)
		}
		var refused []netip.Addr
		sc, err := world.NewSelfChecker(s.Addr, func(_ string, a netip.Addr) { refused = append(refused, a) })
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		addrs, err := sc.Resolver.LookupNetIP(ctx, "ip4", www)
		if err != nil {
			t.Fatalf("resolving %s through %s: %v", www, s, err)
		}
		if want := []netip.Addr{netip.MustParseAddr(hpVIP)}; !slices.Equal(addrs, want) {
			t.Fatalf("%s resolved to %v without hairpin, want the VIP %v", www, addrs, want)
		}
		// The self check's guard: the VIP is refused before any dial.
		before := web.Hits()
		if _, err := sc.Check(ctx, www, token); err == nil {
			t.Fatalf("the self check succeeded without hairpin")
		}
		if !slices.Contains(refused, netip.MustParseAddr(hpVIP)) || sc.HTTPDials() != 0 || web.Hits() != before {
			t.Fatalf("the guard did not refuse the VIP before dialing: refused %v, %d dials, %d requests", refused, sc.HTTPDials(), web.Hits()-before)
		}
	})

	// hairpin www.example.com <the HTTP server's IP>.
	t.Run("static target", func(t *testing.T) {
		metrics := world.Addr(t)
		s := hpStart(t, w, bin, hpConf{name: "coredns-hairpin-ip", maxTTL: 30, ingress: ingress, metrics: metrics,
			hairpins: []string{www + " " + ingress}})
		for _, c := range both {
			hpWantAddrs(t, ask(t, c, s, www, "A"), www, "A", 30, ingress)
			hpWantNodata(t, ask(t, c, s, www, "AAAA"))
		}
		hpSelfCheck(t, s, web, www, token, keyAuth)
		if n := hpMetric(t, metrics, "coredns_acmeforward_hairpin_answers_total"); n < 1 {
			t.Fatalf("coredns_acmeforward_hairpin_answers_total = %v after hairpin answers", n)
		}
	})

	// hairpin www.example.com <the ingress controller's Service name>,
	// which hosts answers with the HTTP server's IP (and no AAAA).
	t.Run("name target", func(t *testing.T) {
		s := hpStart(t, w, bin, hpConf{name: "coredns-hairpin-name", maxTTL: 30, ingress: ingress,
			hairpins: []string{www + " " + hpIngressSvc}})
		for _, c := range both {
			hpWantAddrs(t, ask(t, c, s, www, "A"), www, "A", 30, ingress)
			hpWantNodata(t, ask(t, c, s, www, "AAAA"))
		}
		hpSelfCheck(t, s, web, www, token, keyAuth)
	})

	// The same with `cache 30` in the server block, as in a real cluster's
	// Corefile: the internal lookup goes through the cache; twice.
	t.Run("name target behind cache", func(t *testing.T) {
		s := hpStart(t, w, bin, hpConf{name: "coredns-hairpin-cache", maxTTL: 30, ingress: ingress, cache: true,
			hairpins: []string{www + " " + hpIngressSvc}})
		for range 2 {
			hpSelfCheck(t, s, web, www, token, keyAuth)
		}
		for _, c := range both {
			hpWantAddrs(t, ask(t, c, s, www, "A"), www, "A", -1, ingress)
		}
	})
}

// hpLines are the hairpin lines of the DNS-level tests.
var hpLines = []string{
	hpName("www") + " " + hpAddrWWW,
	"*." + hpZone.Name + " " + hpAddrWild,
	hpName("exact") + " " + hpAddrExact,
	"*." + hpName("deep") + " " + hpAddrDeep,
	hpName("v6") + " " + hpAddrV6,
	hpName("dual") + " " + hpAddrDual + " " + hpAddrV6,
	hpName("one") + " " + hpName("two") + " " + hpAddrMultiA + " " + hpAddrMultiB,
	hpName("svc") + " " + hpIngressSvc,
	hpName("svc6") + " " + hpIngressV6Svc,
	hpName("chain") + " " + hpAliasSvc,
	hpName("gone") + " " + hpNoSuchSvc,
	hpName("lost") + " " + hpUnknownSvc,
}

// The hairpin answers at the DNS level, with dig over UDP and TCP.
func TestHairpinAnswers(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t) // before anything starts
	w := hpWorld(t)
	s := hpStart(t, w, bin, hpConf{name: "coredns-hairpin", maxTTL: 30, hairpins: hpLines})
	high := hpStart(t, w, bin, hpConf{name: "coredns-hairpin-max-ttl-600", maxTTL: 600, hairpins: hpLines})

	t.Run("exact name", func(t *testing.T) {
		for _, c := range both {
			hpWantAddrs(t, ask(t, c, s, hpName("www"), "A"), hpName("www"), "A", 30, hpAddrWWW)
		}
	})

	t.Run("client's case, no CNAME", func(t *testing.T) {
		for _, c := range both {
			for _, tc := range []struct{ q, addr string }{
				{"WwW.ExAmple.COM", hpAddrWWW},                   // exact name, IP target
				{"B.c.EXAMPLE.com", hpAddrWild},                  // wildcard
				{"SVC.Example.Com", hpAddrIngress},               // name target (hosts)
				{"cHaIn.example.COM", hpAddrAlias},               // name target behind a CNAME (template)
				{"X.Deep.Example.Com", hpAddrDeep},               // longest wildcard
				{"ExAcT.example.com", hpAddrExact},               // exact beats wildcard
				{"TWO.example.com", hpAddrMultiA},                // second name of a line (first address)
				{"dual.EXAMPLE.com", hpAddrDual},                 // v4 of a dual target
				{"one.example.com", hpAddrMultiB},                // (second address)
				{"nothere.example.COM", hpAddrWild},              // no public record needed
				{"_acme-challengeX.www.example.com", hpAddrWild}, // not a challenge label
			} {
				r := ask(t, c, s, tc.q, "A")
				world.WantRcode(t, r, "NOERROR")
				if !slices.ContainsFunc(r.Answer, func(rr world.RR) bool { return hpCanon(rr.Data) == tc.addr }) {
					t.Fatalf("%s: %s A lacks %s\n%s", c.name, tc.q, tc.addr, r)
				}
				for _, rr := range r.Answer {
					if rr.Type != "A" || rr.Name != tc.q+"." {
						t.Fatalf("%s: want only A records owned by %q (the client's case, no CNAME)\n%s", c.name, tc.q+".", r)
					}
				}
			}
			r := ask(t, c, s, "dual.Example.COM", "AAAA")
			hpWantAddrs(t, r, "dual.Example.COM", "AAAA", 30, hpAddrV6)
		}
	})

	t.Run("RD copied", func(t *testing.T) {
		r := hpDig(t, s, hpName("www"), "A")
		hpWantAddrs(t, r, hpName("www"), "A", 30, hpAddrWWW)
		if !r.HasFlag("rd") || !r.HasFlag("qr") {
			t.Fatalf("want QR and RD (the client set RD)\n%s", r)
		}
		r = hpDig(t, s, hpName("www"), "A", "+norecurse")
		hpWantAddrs(t, r, hpName("www"), "A", 30, hpAddrWWW)
		if r.HasFlag("rd") {
			t.Fatalf("RD set in the reply to a query without RD\n%s", r)
		}
		r = hpDig(t, s, hpName("svc"), "A", "+norecurse")
		hpWantAddrs(t, r, hpName("svc"), "A", 30, hpAddrIngress)
		if r.HasFlag("rd") {
			t.Fatalf("RD set in the reply to a query without RD\n%s", r)
		}
	})

	t.Run("wildcard", func(t *testing.T) {
		for _, c := range both {
			for _, n := range []string{hpName("a"), hpName("b.c"), hpName("c"), hpName("nothere"), hpName("deep"), hpName("mail")} {
				hpWantAddrs(t, ask(t, c, s, n, "A"), n, "A", 30, hpAddrWild)
			}
			// The longest wildcard wins.
			for _, n := range []string{hpName("x.deep"), hpName("y.z.deep")} {
				hpWantAddrs(t, ask(t, c, s, n, "A"), n, "A", 30, hpAddrDeep)
			}
			// *.example.com does not match example.com itself: its public answers.
			world.WantA(t, ask(t, c, s, hpZone.Name, "A"), hpApexAddr)
			r := ask(t, c, s, hpZone.Name, "AAAA")
			hpWantNodata(t, r)
			hpWantSOA(t, r, -1)
		}
	})

	t.Run("exact name beats wildcard", func(t *testing.T) {
		for _, c := range both {
			hpWantAddrs(t, ask(t, c, s, hpName("exact"), "A"), hpName("exact"), "A", 30, hpAddrExact)
			hpWantAddrs(t, ask(t, c, s, hpName("www"), "A"), hpName("www"), "A", 30, hpAddrWWW)
			// An exact name covers only itself.
			hpWantAddrs(t, ask(t, c, s, hpName("sub.exact"), "A"), hpName("sub.exact"), "A", 30, hpAddrWild)
			hpWantAddrs(t, ask(t, c, s, hpName("sub.www"), "A"), hpName("sub.www"), "A", 30, hpAddrWild)
		}
	})

	t.Run("several names and targets", func(t *testing.T) {
		for _, c := range both {
			for _, n := range []string{hpName("one"), hpName("two")} {
				hpWantAddrs(t, ask(t, c, s, n, "A"), n, "A", 30, hpAddrMultiA, hpAddrMultiB)
				hpWantNodata(t, ask(t, c, s, n, "AAAA"))
			}
		}
	})

	t.Run("AAAA", func(t *testing.T) {
		for _, c := range both {
			// IP targets.
			hpWantAddrs(t, ask(t, c, s, hpName("v6"), "AAAA"), hpName("v6"), "AAAA", 30, hpAddrV6)
			hpWantNodata(t, ask(t, c, s, hpName("v6"), "A"))
			hpWantAddrs(t, ask(t, c, s, hpName("dual"), "A"), hpName("dual"), "A", 30, hpAddrDual)
			hpWantAddrs(t, ask(t, c, s, hpName("dual"), "AAAA"), hpName("dual"), "AAAA", 30, hpAddrV6)
			// Name targets: hosts' AAAA (TTL capped); a v4-only Service has no AAAA.
			hpWantAddrs(t, ask(t, c, s, hpName("svc6"), "AAAA"), hpName("svc6"), "AAAA", 30, hpAddrV6)
			hpWantNodata(t, ask(t, c, s, hpName("svc6"), "A"))
			hpWantNodata(t, ask(t, c, s, hpName("svc"), "AAAA"))
			// A v4 target hides the name's public AAAA (the VIP's v6 address).
			r := ask(t, c, s, hpName("www"), "AAAA")
			hpWantNodata(t, r)
			if strings.Contains(r.Output, hpVIP6) {
				t.Fatalf("the public AAAA reached the client\n%s", r)
			}
			hpWantNodata(t, ask(t, c, s, hpName("a"), "AAAA"))
		}
		// knot has the public AAAA, for the record.
		r := ask(t, digUDP, w.Knot, hpName("www"), "AAAA")
		if len(r.Answer) != 1 || hpCanon(r.Answer[0].Data) != hpVIP6 {
			t.Fatalf("knot's www AAAA\n%s", r)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		for _, c := range both {
			for _, tc := range []struct {
				srv       *world.Server
				label     string
				typ, addr string
				ttl       int
			}{
				// IP targets get max_ttl.
				{s, "www", "A", hpAddrWWW, 30},
				{high, "www", "A", hpAddrWWW, 600},
				{s, "a", "A", hpAddrWild, 30},
				{high, "a", "A", hpAddrWild, 600},
				{s, "v6", "AAAA", hpAddrV6, 30},
				{high, "v6", "AAAA", hpAddrV6, 600},
				// Name targets keep their TTL, capped by max_ttl.
				{s, "svc", "A", hpAddrIngress, 30},
				{high, "svc", "A", hpAddrIngress, hpHostsTTL},
				{s, "svc6", "AAAA", hpAddrV6, 30},
				{high, "svc6", "AAAA", hpAddrV6, hpHostsTTL},
				{s, "chain", "A", hpAddrAlias, hpAliasATTL},
				{high, "chain", "A", hpAddrAlias, hpAliasATTL},
			} {
				hpWantAddrs(t, ask(t, c, tc.srv, hpName(tc.label), tc.typ), hpName(tc.label), tc.typ, tc.ttl, tc.addr)
			}
		}
	})

	// The internal lookup of a name target fails: SERVFAIL, never NODATA or
	// NXDOMAIN (clients would cache them as the truth about the public name).
	t.Run("target lookup fails", func(t *testing.T) {
		for _, c := range both {
			for _, n := range []string{hpName("gone"), hpName("lost")} { // NXDOMAIN inside; REFUSED
				for _, typ := range []string{"A", "AAAA"} {
					r := ask(t, c, s, n, typ)
					world.WantRcode(t, r, "SERVFAIL")
					if len(r.Answer) != 0 {
						t.Fatalf("%s: SERVFAIL with answers\n%s", c.name, r)
					}
				}
			}
		}
	})

	// Other types of a hairpin name get the public answers, unchanged (SOA
	// and NS are left out: the discovery rule forwards them, capped).
	t.Run("other types pass", func(t *testing.T) {
		for _, c := range both {
			for _, tc := range []struct{ name, typ string }{
				{hpName("www"), "TXT"}, {hpName("www"), "MX"}, {hpName("www"), "CNAME"},
				{hpName("a"), "TXT"}, {hpName("svc"), "MX"}, {hpName("v6"), "TXT"}, {hpName("exact"), "SRV"},
			} {
				got, want := ask(t, c, s, tc.name, tc.typ), ask(t, c, w.Knot, tc.name, tc.typ)
				world.WantRcode(t, got, want.Rcode)
				data := func(rrs []world.RR) []string {
					var out []string
					for _, rr := range rrs {
						out = append(out, strings.ToLower(rr.Name)+" "+rr.Type+" "+rr.Data)
					}
					return out
				}
				if !slices.Equal(data(got.Answer), data(want.Answer)) || !slices.Equal(data(got.Authority), data(want.Authority)) {
					t.Fatalf("%s %s: not knot's answer\n--- through CoreDNS ---\n%s\n--- knot ---\n%s", tc.name, tc.typ, got, want)
				}
			}
			world.WantTXT(t, ask(t, c, s, hpName("www"), "TXT"), hpPublicTXT)
			r := ask(t, c, s, hpName("www"), "MX")
			if mx := r.Records("MX"); len(mx) != 1 || mx[0].Data != "10 "+hpName("mail")+"." {
				t.Fatalf("www MX\n%s", r)
			}
		}
	})

	// Challenge names keep their forwarding even under `hairpin *.zone`: the
	// TXT is the DNS-01 token, and an A question for a challenge name goes to
	// knot through acmeforward (its NODATA SOA capped by max_ttl), not to the
	// hairpin table.
	t.Run("challenge names keep forwarding", func(t *testing.T) {
		for _, c := range both {
			world.WantTXT(t, ask(t, c, s, hpZone.WWWChallenge(), "TXT"), hpZone.WWWToken)
			r := ask(t, c, s, hpZone.Challenge(), "TXT")
			world.WantTXT(t, r, hpZone.Token)
			if r.Answer[0].TTL != 30 {
				t.Fatalf("apex token TTL %d, want 30 (forwarded by acmeforward, capped)\n%s", r.Answer[0].TTL, r)
			}
			for _, typ := range []string{"A", "AAAA"} {
				r = ask(t, c, s, hpZone.WWWChallenge(), typ)
				hpWantNodata(t, r)
				hpWantSOA(t, r, 30)
			}
			r = ask(t, c, s, "_ACME-Challenge.WWW.example.com", "TXT")
			world.WantTXT(t, r, hpZone.WWWToken)
		}
	})

	// The forwarding rules are checked before the hairpin table: the zone's
	// nameserver host, found by the prefetch before the server answers its
	// first query, keeps its own A from the start, even under
	// `hairpin *.zone`, on every replica alike. (The internal view here is
	// knot itself, which knows the host: it keeps that answer rather than
	// being forwarded, and either way never gets the hairpin's.)
	t.Run("prefetched nameserver host keeps forwarding", func(t *testing.T) {
		fresh := hpStart(t, w, bin, hpConf{name: "coredns-hairpin-prefetched", maxTTL: 30, hairpins: hpLines})
		ns1 := hpName("ns1")
		hpWantAddrs(t, ask(t, digUDP, fresh, hpName("other"), "A"), hpName("other"), "A", 30, hpAddrWild)
		// Before any NS question was forwarded through this server.
		for _, c := range both {
			world.WantA(t, ask(t, c, fresh, ns1, "A"), world.NSAddr)
		}
		r := ask(t, digUDP, fresh, hpZone.Name, "NS")
		world.WantRcode(t, r, "NOERROR")
		if ns := r.Records("NS"); len(ns) != 1 || !strings.EqualFold(ns[0].Data, ns1+".") {
			t.Fatalf("NS %s\n%s", hpZone.Name, r)
		}
	})
}

// A bad hairpin line stops CoreDNS at start-up: non-zero exit, and the
// message names the Corefile, the line and the reason.
func TestHairpinBadCorefile(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t)
	w := hpWorld(t)
	dir := t.TempDir()
	knot := w.Knot.Addr.String()

	// Line numbers:   1          2      3       4                       5        6    7    8   9         10
	// .:PORT { / bind / errors / acmeforward example.com { / to KNOT / L6 / L7 / } / forward / }
	write := func(name, l6, l7 string) (path, text string, addr netip.AddrPort) {
		addr = world.Addr(t)
		text = fmt.Sprintf(".:%d {\n    bind %s\n    errors\n    acmeforward %s {\n        to %s\n        %s\n        %s\n    }\n    forward . %s\n}\n",
			addr.Port(), addr.Addr(), hpZone.Name, knot, l6, l7, knot)
		path = filepath.Join(dir, name+".Corefile")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path, text, addr
	}

	// The template with good hairpin lines starts: each failure below is the
	// changed line's.
	t.Run("good", func(t *testing.T) {
		path, _, addr := write("good", "hairpin "+hpName("www")+" "+hpAddrWWW+" "+hpAddrV6, "hairpin *."+hpZone.Name+" "+hpIngressSvc)
		s := w.CoreDNST(t, world.CoreDNS{Name: "coredns-good-hairpin-corefile", Binary: bin, ConfPath: path, Addr: addr})
		hpWantAddrs(t, ask(t, digUDP, s, hpName("www"), "A"), hpName("www"), "A", -1, hpAddrWWW)
		world.WantTXT(t, ask(t, digUDP, s, hpZone.Challenge(), "TXT"), hpZone.Token)
	})

	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name   string
		l6, l7 string
		lines  []int    // the error names one of these lines
		token  string   // must appear in the message ("" for none)
		reason []string // each must appear (case-insensitive; alternatives split by |)
	}{
		{"name is an address", "hairpin 10.0.0.1 " + hpIngressSvc, "max_ttl 30", []int{6}, "10.0.0.1", []string{"address|ip literal"}},
		{"name and target are addresses", "hairpin 10.0.0.1 127.0.0.1", "max_ttl 30", []int{6}, "10.0.0.1", []string{"address|name"}},
		{"IPv6 name", "hairpin ::1 " + hpName("www") + " 127.0.0.1", "max_ttl 30", []int{6}, "::1", []string{"address|ip literal"}},
		{"address before a target name", "hairpin " + hpName("www") + " 127.0.0.1 " + hpIngressSvc, "max_ttl 30", []int{6}, "127.0.0.1", []string{"address|ip literal"}},
		{"target with an empty label", "hairpin " + hpName("www") + " ingress..svc.cluster.local", "max_ttl 30", []int{6}, "ingress..svc.cluster.local", []string{"target|empty label"}},
		{"target label too long", "hairpin " + hpName("www") + " " + long + ".svc.cluster.local", "max_ttl 30", []int{6}, long, []string{"target|label"}},
		{"wildcard in the middle", "hairpin foo.*." + hpZone.Name + " 127.0.0.1", "max_ttl 30", []int{6}, "foo.*." + hpZone.Name, []string{"wildcard"}},
		{"wildcard inside a label", "hairpin *foo." + hpZone.Name + " 127.0.0.1", "max_ttl 30", []int{6}, "*foo." + hpZone.Name, []string{"wildcard"}},
		{"missing target", "hairpin " + hpName("www"), "max_ttl 30", []int{6}, "", []string{"target|argument"}},
		{"no arguments", "hairpin", "max_ttl 30", []int{6}, "", []string{"target|argument|name"}},
		{"duplicate name in two lines", "hairpin " + hpName("www") + " 127.0.0.1", "hairpin WWW.Example.COM. 127.0.0.2", []int{7}, "", []string{"duplicate|twice|already"}},
		{"duplicate name in one line", "hairpin " + hpName("www") + " " + hpName("www") + " 127.0.0.1", "max_ttl 30", []int{6}, "", []string{"duplicate|twice|already"}},
		{"duplicate wildcard", "hairpin *." + hpZone.Name + " 127.0.0.1", "hairpin *." + hpZone.Name + " " + hpIngressSvc, []int{7}, "", []string{"duplicate|twice|already"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, text, _ := write(strings.ReplaceAll(tc.name, " ", "-"), tc.l6, tc.l7)
			msg := wantStartupError(t, bin, dir, path, text, tc.lines, tc.token, tc.reason)
			if lower := strings.ToLower(msg); strings.Contains(lower, "unknown option") || strings.Contains(lower, "unknown property") {
				t.Fatalf("hairpin is not a known option of this binary (issue 5 not in it yet?)\n--- output ---\n%s", msg)
			}
		})
	}
}
