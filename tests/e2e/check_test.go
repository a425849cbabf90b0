package e2e_test

// `acmeforward check` (docs/CHECK.md) against real servers: one world per
// verdict, and the worlds that acmeforward fixes, where the verdict is ok.
// The public view is an unbound that resolves the world's zones at knot (no
// cache), the cluster resolver a CoreDNS with or without acmeforward in
// front of dnsmasq, or another server that shows the difference. The
// binary comes from ACMEFORWARD_CHECK.

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// checkResult is one check run twice: plain and with --json.
type checkResult struct {
	plain  world.CheckRun
	report world.CheckReport
}

// runCheck runs the check plain and with --json (each output logged, for
// the record) and fails unless both exit with the same status.
func runCheck(t *testing.T, resolver netip.AddrPort, public []netip.AddrPort, name string, extra ...string) checkResult {
	t.Helper()
	bin := world.CheckCLI(t)
	plain, err := world.RunCheck(bin, world.CheckArgs(resolver, public, name, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", plain)
	js, err := world.RunCheck(bin, world.CheckArgs(resolver, public, name, append(extra, "--json")...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", js)
	report, err := world.ParseCheckReport(js.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if js.Exit != plain.Exit || report.ExitCode != plain.Exit {
		t.Fatalf("plain exit %d, --json exit %d, JSON exit_code %d", plain.Exit, js.Exit, report.ExitCode)
	}
	return checkResult{plain, report}
}

// want fails unless the verdict and exit status are these and the plain
// output holds every phrase.
func (c checkResult) want(t *testing.T, verdict string, exit int, phrases ...string) {
	t.Helper()
	if c.report.Verdict != verdict || c.plain.Exit != exit {
		t.Fatalf("verdict %q exit %d, want %q exit %d\n%s", c.report.Verdict, c.plain.Exit, verdict, exit, c.plain)
	}
	if !strings.Contains(c.plain.Stdout, "verdict: "+verdict+"\n") {
		t.Fatalf("plain output does not say the verdict\n%s", c.plain)
	}
	for _, p := range phrases {
		if !strings.Contains(c.plain.Stdout, p) {
			t.Fatalf("plain output lacks %q\n%s", p, c.plain)
		}
	}
	if c.report.Fix == "" || c.report.Summary == "" || len(c.report.Lookups) == 0 {
		t.Fatalf("JSON report without fix, summary or lookups\n%+v", c.report)
	}
}

// lookup fails unless the report compared name/typ.
func (c checkResult) lookup(t *testing.T, name, typ string) world.CheckLookup {
	t.Helper()
	l, ok := c.report.Lookup(name, typ)
	if !ok {
		t.Fatalf("no lookup %s %s\n%s", name, typ, c.plain)
	}
	return l
}

// wantAllEqual: every lookup that is not a hint is the same in both views.
func (c checkResult) wantAllEqual(t *testing.T) {
	t.Helper()
	for _, l := range c.report.Lookups {
		if !l.Hint && !l.Equal {
			t.Fatalf("%s %s differs\n%s", l.Question.Name, l.Question.Type, c.plain)
		}
	}
}

func publicOnly(s *world.Server) []netip.AddrPort { return []netip.AddrPort{s.Addr} }

// indentBlock is the acmeforward block a check printed (JSON "corefile"),
// indented for a server block.
func indentBlock(t *testing.T, block string) string {
	t.Helper()
	if !strings.HasPrefix(block, "acmeforward ") {
		t.Fatalf("no acmeforward block from the check: %q", block)
	}
	return "    " + strings.ReplaceAll(strings.TrimSuffix(block, "\n"), "\n", "\n    ") + "\n"
}

// The user's story: the internal server hides example.com, so the challenge
// is NXDOMAIN through the cluster's CoreDNS; with the acmeforward block the
// check prints, every lookup of the checks is the public one, and only the
// hairpin hint remains (www has an inside address).
func TestCheckSplitHorizon(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	world.CheckCLI(t)
	w := world.New(t, world.Standard())
	public := w.UnboundT(t, true)
	com := world.ExampleCom
	without := startCoreDNS(t, w, "coredns-without-acmeforward", "")

	var fixBlock string
	t.Run("without acmeforward", func(t *testing.T) {
		c := runCheck(t, without.Addr, publicOnly(public), "www.example.com")
		fixBlock = c.report.Corefile
		c.want(t, "challenge-hidden", 1,
			"the cluster resolver answers NXDOMAIN for _acme-challenge.www.example.com TXT, the public view has NOERROR: _acme-challenge.www.example.com TXT \""+com.WWWToken+"\": split horizon",
			"fix: add the acmeforward block for example.com below (to "+public.Addr.String()+") to the cluster's Corefile",
			"\n    acmeforward example.com {\n        to "+public.Addr.String()+"\n    }\n",
			"hint: www.example.com A: the cluster resolver answers NOERROR: www.example.com A "+world.InternalWWW.Addr)
		l := c.lookup(t, com.WWWChallenge(), "TXT")
		if l.Equal || l.Resolver.Rcode != "NXDOMAIN" || !slices.Equal(l.Public.Values("TXT"), []string{com.WWWToken}) {
			t.Fatalf("challenge lookup %+v\n%s", l, c.plain)
		}
	})

	t.Run("with the block the check printed", func(t *testing.T) {
		with := startCoreDNS(t, w, "coredns", indentBlock(t, fixBlock))
		c := runCheck(t, with.Addr, publicOnly(public), "www.example.com")
		c.want(t, "ok", 0, "nothing to fix", "hairpin www.example.com TARGET")
		c.wantAllEqual(t)
		l := c.lookup(t, com.WWWChallenge(), "TXT")
		if !slices.Equal(l.Resolver.Values("TXT"), []string{com.WWWToken}) {
			t.Fatalf("challenge through acmeforward %+v\n%s", l, c.plain)
		}
		// The walk went all the way: the zone's SOA, its NS and the
		// nameserver's address were compared, and match.
		for _, q := range [][2]string{{"example.com", "SOA"}, {"example.com", "NS"}, {"ns1.example.com", "A"}, {"_validation-persist.www.example.com", "TXT"}} {
			if l := c.lookup(t, q[0], q[1]); !l.Equal || l.Resolver.Rcode == "" {
				t.Fatalf("%v: %+v\n%s", q, l, c.plain)
			}
		}
		if got := c.lookup(t, "ns1.example.com", "A").Resolver.Values("A"); !slices.Equal(got, []string{world.NSAddr}) {
			t.Fatalf("ns1.example.com A through acmeforward: %v", got)
		}
		if l := c.lookup(t, "www.example.com", "A"); !l.Hint || l.Equal {
			t.Fatalf("the hairpin lookup should be a differing hint: %+v", l)
		}
	})
}

// The challenge of www.example.com is a CNAME into example.net (acme-dns
// style), a zone the internal server hides; example.com itself resolves
// inside (dnsmasq sends it to an internal resolver). The check names the
// hidden target and the `delegated` fix, and with that fix (in the block the
// check prints) the verdict is ok. The target is a plain name, or one whose
// first label holds a space, `/`, `*`, `"`, `\`, a dot and non-ASCII octets:
// any octet is legal in a label, and the check asks it and prints it as dig
// does (RFC 1035 presentation format, decimal escapes), which is also how
// the zone file writes it.
func TestCheckCNAMETarget(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	world.CheckCLI(t)
	for _, tc := range []struct{ name, label string }{
		{"plain", "x.auth"},
		{"escaped", `a\032b/c*\"d\\e\.f\195\169.auth`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkCNAMETarget(t, tc.label)
		})
	}
}

// checkCNAMETarget is TestCheckCNAMETarget for a target label (relative to
// example.net, as the check prints it).
func checkCNAMETarget(t *testing.T, label string) {
	const token = "token-delegated-www"
	target := label + ".example.net"
	com := world.ExampleCom
	com.WWWChallengeCNAME = target
	exampleNet := world.Zone{Name: "example.net", Extra: []string{label + ` 60 IN TXT "` + token + `"`}}
	w := world.New(t, world.Options{Zones: []world.Zone{com, exampleNet}, Hidden: []string{"example.net"}, InternalRecursion: true})
	public := w.UnboundT(t, true)
	without := startCoreDNS(t, w, "coredns-without-acmeforward", "")

	var fixBlock string
	t.Run("without acmeforward", func(t *testing.T) {
		c := runCheck(t, without.Addr, publicOnly(public), "www.example.com")
		fixBlock = c.report.Corefile
		c.want(t, "cname-target-hidden", 1,
			"the CNAME target "+target+" of _acme-challenge.www.example.com is hidden: the cluster resolver answers NXDOMAIN for "+target+" TXT, the public view NOERROR: "+target+" TXT \""+token+"\"",
			"fix: add `delegated example.net` to the acmeforward block for www.example.com",
			"\n    acmeforward www.example.com {\n        to "+public.Addr.String()+"\n        delegated example.net\n    }\n")
		if l := c.lookup(t, com.WWWChallenge(), "CNAME"); !l.Equal || !slices.Equal(l.Resolver.Values("CNAME"), []string{target + "."}) {
			t.Fatalf("the CNAME itself should be visible inside: %+v\n%s", l, c.plain)
		}
	})

	t.Run("with the fix the check gave", func(t *testing.T) {
		// The block exactly as the check printed it, in the cluster's server block.
		fixed := startCoreDNS(t, w, "coredns", indentBlock(t, fixBlock))
		c := runCheck(t, fixed.Addr, publicOnly(public), "www.example.com")
		c.want(t, "ok", 0, "nothing to fix")
		c.wantAllEqual(t)
		if l := c.lookup(t, target, "TXT"); !slices.Equal(l.Resolver.Values("TXT"), []string{token}) {
			t.Fatalf("target TXT through acmeforward: %+v\n%s", l, c.plain)
		}
	})
}

// With `discovery off` acmeforward forwards the challenge but not the SOA
// walk: inside, example.com's SOA is NXDOMAIN and the walk runs up to com,
// which the internal server refuses.
func TestCheckSOAWalk(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	world.CheckCLI(t)
	w := world.New(t, world.Standard())
	public := w.UnboundT(t, true)
	s := startCoreDNS(t, w, "coredns", world.Acme{Zones: []string{"example.com"}, To: publicOnly(public), Discovery: "off", MaxTTL: -1}.String())
	c := runCheck(t, s.Addr, publicOnly(public), "www.example.com")
	c.want(t, "soa-walk-differs", 1,
		"the SOA walk for _acme-challenge.www.example.com stops at com (REFUSED) through the cluster resolver, the public view finds the zone example.com",
		"discovery on")
	if l := c.lookup(t, world.ExampleCom.WWWChallenge(), "TXT"); !l.Equal {
		t.Fatalf("the challenge itself is forwarded: %+v\n%s", l, c.plain)
	}
	if l := c.lookup(t, "com", "SOA"); l.Resolver.Rcode != "REFUSED" {
		t.Fatalf("the resolver's walk should end at com, REFUSED: %+v\n%s", l, c.plain)
	}
}

// The cluster resolver is an internal copy of example.com that differs only
// in its nameserver's address (a split-horizon view of the zone): the
// clients' default check would ask the wrong server.
func TestCheckNameservers(t *testing.T) {
	t.Parallel()
	world.CheckCLI(t)
	outside := world.New(t, world.Options{Zones: []world.Zone{world.ExampleCom}})
	public := outside.UnboundT(t, true)
	insideZone := world.ExampleCom
	insideZone.NSAtKnot = true
	inside := world.New(t, world.Options{Zones: []world.Zone{insideZone}})
	c := runCheck(t, inside.Knot.Addr, publicOnly(public), "example.com")
	c.want(t, "nameservers-hidden", 1,
		"the zone's nameservers are hidden: the cluster resolver answers NOERROR: ns1.example.com A "+inside.Knot.Host()+" for ns1.example.com A, the public view NOERROR: ns1.example.com A "+world.NSAddr,
		"--dns01-recursive-nameservers-only")
	for _, q := range [][2]string{{"_acme-challenge.example.com", "TXT"}, {"example.com", "SOA"}, {"example.com", "NS"}} {
		if l := c.lookup(t, q[0], q[1]); !l.Equal {
			t.Fatalf("%v should be the same in both views: %+v\n%s", q, l, c.plain)
		}
	}
}

// knot has a dns-persist-01 record that dnsmasq hides. An acmeforward block
// whose `labels` leave out _validation-persist forwards the DNS-01 lookups
// only; with the default labels the verdict is ok.
func TestCheckPersist(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	world.CheckCLI(t)
	const persist = "letsencrypt.org; accounturi=https://acme.example/acct/1"
	com := world.ExampleCom
	com.Extra = []string{`_validation-persist 60 IN TXT "` + persist + `"`}
	opts := world.Standard()
	opts.Zones = []world.Zone{com, world.ExampleOrg}
	w := world.New(t, opts)
	public := w.UnboundT(t, true)
	dns01Only := startCoreDNS(t, w, "coredns-dns01-only", world.Acme{Zones: []string{"example.com"}, To: publicOnly(public), Labels: []string{"_acme-challenge"}, MaxTTL: -1}.String())
	defaults := startCoreDNS(t, w, "coredns", world.Acme{Zones: []string{"example.com"}, To: publicOnly(public), MaxTTL: -1}.String())

	t.Run("labels without _validation-persist", func(t *testing.T) {
		c := runCheck(t, dns01Only.Addr, publicOnly(public), "example.com")
		c.want(t, "persist-hidden", 1,
			"the cluster resolver answers NXDOMAIN for _validation-persist.example.com TXT, the public view has NOERROR: _validation-persist.example.com TXT \""+persist+"\": the dns-persist-01 record is hidden",
			"keep `_validation-persist`")
	})
	t.Run("default labels", func(t *testing.T) {
		c := runCheck(t, defaults.Addr, publicOnly(public), "example.com")
		c.want(t, "ok", 0)
		c.wantAllEqual(t)
	})
}

// Nothing listens at the resolver, or at the public address; a resolver
// that never answers; the client's own I/O against a fake resolver (a
// truncated UDP reply is retried over TCP, a forged reply under another ID
// is skipped); the default resolver from /etc/resolv.conf; usage errors.
func TestCheckUnreachableAndTransport(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	world.CheckCLI(t)
	w := world.New(t, world.Standard())
	public := w.UnboundT(t, true)

	t.Run("resolver: nothing listens", func(t *testing.T) {
		c := runCheck(t, world.Addr(t), publicOnly(public), "example.com", "--timeout", "500ms")
		c.want(t, "resolver-unreachable", 1, "is unreachable", "check --resolver")
	})
	t.Run("resolver: never answers", func(t *testing.T) {
		silent := startFake(t, world.FakeSilent)
		c := runCheck(t, silent.Addr, publicOnly(public), "example.com", "--timeout", "300ms")
		c.want(t, "resolver-unreachable", 1, "timeout after 300ms (UDP)")
	})
	t.Run("public: nothing listens", func(t *testing.T) {
		c := runCheck(t, w.Dnsmasq.Addr, []netip.AddrPort{world.Addr(t)}, "example.com", "--timeout", "500ms")
		c.want(t, "public-unreachable", 3, "could not answer _acme-challenge.example.com TXT", "pass --public")
	})
	t.Run("public: the second one answers", func(t *testing.T) {
		c := runCheck(t, w.Dnsmasq.Addr, []netip.AddrPort{world.Addr(t), public.Addr}, "example.com", "--timeout", "500ms")
		c.want(t, "challenge-hidden", 1, "split horizon")
	})
	t.Run("TCP after a truncated reply", func(t *testing.T) {
		f := startFake(t, world.FakeTruncate)
		c := runCheck(t, f.Addr, publicOnly(public), "example.com")
		l := c.lookup(t, "_acme-challenge.example.com", "TXT")
		if !slices.Equal(l.Resolver.Values("TXT"), []string{world.FakeTCPToken}) {
			t.Fatalf("want the fake's TCP answer: %+v\n%s", l, c.plain)
		}
	})
	t.Run("forged ID first", func(t *testing.T) {
		f := startFake(t, world.FakeForgedIDFirst)
		c := runCheck(t, f.Addr, publicOnly(public), "example.com")
		l := c.lookup(t, "_acme-challenge.example.com", "TXT")
		if !slices.Equal(l.Resolver.Values("TXT"), []string{world.FakeGoodToken}) || strings.Contains(c.plain.Stdout, world.FakeGarbageToken) {
			t.Fatalf("want the fake's true answer only: %+v\n%s", l, c.plain)
		}
	})
	t.Run("default resolver from /etc/resolv.conf", func(t *testing.T) {
		// A resolv.conf has no port: the resolver listens on 53, and the
		// check runs as in a pod, with that resolv.conf bind-mounted.
		addr := world.AddrPort(t, 53)
		coredns := w.CoreDNST(t, world.CoreDNS{Name: "coredns-port53", Binary: world.CoreDNSBinary(t), Corefile: world.ClusterCorefile(addr, w.Dnsmasq.Addr, ""), Addr: addr})
		resolvConf := filepath.Join(t.TempDir(), "resolv.conf")
		if err := world.WriteResolvConf(resolvConf, coredns.Addr); err != nil {
			t.Fatal(err)
		}
		argv := world.PodArgv(resolvConf, world.CheckCLI(t), "check", "--public", public.Addr.String(), "example.com")
		r, err := world.RunCheck(argv[0], argv[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s", r)
		if r.Exit != 1 || !strings.Contains(r.Stdout, "cluster resolver "+coredns.Addr.String()+",") || !strings.Contains(r.Stdout, "verdict: challenge-hidden\n") {
			t.Fatalf("want the resolv.conf nameserver asked, challenge-hidden\n%s", r)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		bin := world.CheckCLI(t)
		for _, args := range [][]string{
			{"check", "--resolver", public.Addr.String(), "example.com"},
			{"check", "--public", public.Addr.String(), "--timeout", "2", "example.com"},
			{"check", "--public", public.Addr.String()},
			{"frobnicate"},
		} {
			r, err := world.RunCheck(bin, args...)
			if err != nil {
				t.Fatal(err)
			}
			if r.Exit != 2 || !strings.Contains(r.Stderr, "usage: acmeforward check") {
				t.Fatalf("want exit 2 and the usage\n%s", r)
			}
		}
	})
}
