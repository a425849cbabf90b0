package e2e_test

// The prefetch rows of the poisoning table: whoever writes a listed or
// delegated zone's public NS RRset names a host that exists only inside
// (intranet.<zone>, with an internal address at dnsmasq and a public one at
// knot). Every replica prefetches that NS RRset at start-up, with no client
// query at all, and again at every refresh: the host must keep dnsmasq's
// answer all the same, unless the operator names it with public_hosts. A
// host the internal view does not know is forwarded, and the ACME lookups
// keep working.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// prefetchAttempt is one prefetch row.
type prefetchAttempt struct {
	name      string
	zone      string // whose apex NS RRset names host
	host      string // the host the NS RRset names
	delegated bool   // the zone is given with `delegated` (no zone listed)
	// change: the NS RRset names only ns1 at start-up, and host is added
	// by dynamic update while CoreDNS runs (the next prefetch sees it).
	change bool
	optIn  bool // `public_hosts host`: the operator's decision
	// unknownInside: the internal view does not know host (the control).
	unknownInside bool
}

// The prefetch zones. The NS RRset of a changed zone has a short TTL, so that
// the prefetch refreshes it within a test; each upstream mode changes a zone
// of its own.
const (
	pfApex      = "corp.example"
	pfDelegated = "dlg.example"
	pfControl   = "ctl.example"
	pfChangeTTL = 40
)

func pfChangeZone(upstream string) string { return "chg-" + upstream + ".example" }

// The internal addresses of the internal-only hosts.
var pfInternal = map[string]string{
	"intranet." + pfApex:                        "10.20.0.11",
	"intranet." + pfDelegated:                   "10.20.0.12",
	"intranet." + pfChangeZone("recursive"):     "10.20.0.13",
	"intranet." + pfChangeZone("authoritative"): "10.20.0.14",
}

func prefetchAttempts(upstream string) []prefetchAttempt {
	chg := pfChangeZone(upstream)
	return []prefetchAttempt{
		{name: "prefetch-apex-NS-internal-host", zone: pfApex, host: "intranet." + pfApex},
		{name: "prefetch-delegated-NS-internal-host", zone: pfDelegated, host: "intranet." + pfDelegated, delegated: true},
		{name: "prefetch-NS-changed-to-internal-host", zone: chg, host: "intranet." + chg, change: true},
		{name: "prefetch-NS-host-unknown-inside", zone: pfControl, host: "ext." + pfControl, unknownInside: true},
		{name: "prefetch-NS-internal-host-public_hosts", zone: pfApex, host: "intranet." + pfApex, optIn: true},
	}
}

// addPrefetchWorld adds the prefetch zones to the poisoning world: at knot
// (the apex NS RRset naming the host, whose public A is knot's own address,
// so that authoritative mode can ask it too), and at dnsmasq (hidden, with
// the internal-only hosts).
func addPrefetchWorld(opts *world.Options, knot netip.Addr) {
	nsTo := func(host string) []string {
		label := strings.SplitN(host, ".", 2)[0]
		return []string{"@ IN NS " + label, label + " IN A " + knot.String(), label + ` IN TXT "public-view"`}
	}
	apex := append(nsTo("intranet."+pfApex),
		// A delegation whose NS names a host that only a `template`
		// answers inside, and for A only.
		"evil IN NS "+pfTemplateHost+".", strings.TrimSuffix(pfTemplateHost, "."+pfApex)+" IN A "+knot.String())
	opts.Zones = append(opts.Zones,
		world.Zone{Name: pfApex, Token: poisonToken(pfApex), NSAtKnot: true, Extra: apex},
		world.Zone{Name: pfDelegated, Token: poisonToken(pfDelegated), NSAtKnot: true, Extra: nsTo("intranet." + pfDelegated)},
		world.Zone{Name: pfControl, Token: poisonToken(pfControl), NSAtKnot: true, Extra: nsTo("ext." + pfControl)},
	)
	opts.Hidden = append(opts.Hidden, pfApex, pfDelegated, pfControl)
	for _, upstream := range []string{"recursive", "authoritative"} {
		zone := pfChangeZone(upstream)
		opts.Zones = append(opts.Zones, world.Zone{Name: zone, Token: poisonToken(zone), NSAtKnot: true, NSTTL: pfChangeTTL})
		opts.Hidden = append(opts.Hidden, zone)
	}
	for host, addr := range pfInternal {
		opts.Hosts = append(opts.Hosts, world.HostRecord{Name: host, Addr: addr, Addr6: "fd00::" + strings.TrimPrefix(addr, "10.20.0.")})
	}
	slices.SortFunc(opts.Hosts, func(a, b world.HostRecord) int { return strings.Compare(a.Name, b.Name) })
}

// pfTypes are the types whose answer the host must keep: the nameserver
// rule's A and AAAA, and TXT, which no rule forwards for it in a listed zone.
// In a delegated zone every name's TXT goes out by the operator's
// `delegated` line, so there only A and AAAA are the prefetch's to keep.
func pfTypes(a prefetchAttempt) []string {
	if a.delegated {
		return []string{"A", "AAAA"}
	}
	return []string{"A", "AAAA", "TXT"}
}

// prefetchRun starts a CoreDNS for the attempt and says what became of it.
func prefetchRun(t *testing.T, w *world.World, resolver *world.Server, upstream string, a prefetchAttempt) string {
	acme := world.Acme{To: []netip.AddrPort{w.Knot.Addr}, Timeout: "1s", MaxTTL: 30}
	if a.delegated {
		acme.Delegated = []string{a.zone}
	} else {
		acme.Zones = []string{a.zone}
	}
	if a.optIn {
		acme.PublicHosts = []string{a.host}
	}
	if upstream == "authoritative" {
		acme.To = []netip.AddrPort{resolver.Addr}
		acme.UpstreamMode = "authoritative"
		acme.AllowNS = []string{"127.0.0.0/8"}
	}
	internal := map[string]string{}
	for _, typ := range pfTypes(a) {
		internal[typ] = rrView(ask(t, digUDP, w.Dnsmasq, a.host, typ))
	}
	s, metrics := startCoreDNSMetrics(t, w, "coredns-poison-prefetch", acme)

	// What the host's questions get through CoreDNS, against dnsmasq's.
	diffs := func() []string {
		var out []string
		for _, typ := range pfTypes(a) {
			got := rrView(ask(t, digUDP, s, a.host, typ))
			t.Logf("%s %s through CoreDNS: %s", a.host, typ, got)
			if got != internal[typ] {
				out = append(out, fmt.Sprintf("%s %s: %s, internal %s", a.host, typ, got, internal[typ]))
			}
		}
		return out
	}
	// Right after start, before any client question but these.
	afterStart := diffs()
	// A fresh CoreDNS: what is counted was refused by its prefetch (or, in
	// the changed row, after the change).
	refusedBefore := 0.0
	if a.change {
		refusedBefore = refusedFacts(t, metrics)["internal_name"]
		made := propagationLookups(t, s, "_acme-challenge."+a.zone)
		t.Logf("lookups through CoreDNS before the change:\n  %s", strings.Join(made, "\n  "))
		label := strings.SplitN(a.host, ".", 2)[0]
		err := w.Update(a.zone,
			fmt.Sprintf("add %s. %d NS %s.", a.zone, pfChangeTTL, a.host),
			fmt.Sprintf("add %s. %d A %s", a.host, pfChangeTTL, w.Knot.Host()),
		)
		if err != nil {
			t.Fatalf("changing the NS RRset of %s: %v", a.zone, err)
		}
		t.Logf("added %s. NS %s. (and %s's public A) at knot", a.zone, a.host, label)
		// The next prefetch (at 3/4 of the NS TTL, at least 30 s; a
		// resolver may serve the old RRset once more) either refuses the
		// host or poisons it. No other question is asked meanwhile: only the
		// prefetch can have done either.
		deadline := time.Now().Add(4 * pfChangeTTL * time.Second)
		for refusedFacts(t, metrics)["internal_name"] == refusedBefore && len(diffs()) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no prefetch of %s refused or took %s within %s", a.zone, a.host, 4*pfChangeTTL*time.Second)
			}
			time.Sleep(time.Second)
		}
		afterStart = diffs()
	}
	made := propagationLookups(t, s, "_acme-challenge."+a.zone)
	t.Logf("lookups through CoreDNS:\n  %s", strings.Join(made, "\n  "))
	after := diffs()
	refused := refusedFacts(t, metrics)["internal_name"]

	// The ACME lookups work: the token, and the zone's own nameserver's
	// public address.
	var broken []string
	if r := ask(t, digUDP, s, "_acme-challenge."+a.zone, "TXT"); !slices.Equal(r.TXTs(), []string{poisonToken(a.zone)}) {
		broken = append(broken, fmt.Sprintf("TXT _acme-challenge.%s: %s", a.zone, rrView(r)))
	}
	if r := ask(t, digUDP, s, "ns1."+a.zone, "A"); len(r.Records("A")) != 1 || r.Records("A")[0].Data != w.Knot.Host() {
		broken = append(broken, fmt.Sprintf("A ns1.%s: %s", a.zone, rrView(r)))
	}
	if len(broken) > 0 {
		t.Errorf("the ACME lookups no longer work:\n%s", strings.Join(broken, "\n"))
	}

	if a.optIn || a.unknownInside {
		// The host is forwarded: its A is the public one, at once.
		why := "unknown inside"
		if a.optIn {
			why = "public_hosts"
		}
		r := ask(t, digUDP, s, a.host, "A")
		if got := r.Records("A"); len(got) != 1 || got[0].Data != w.Knot.Host() {
			t.Errorf("%s: A %s = %s, want the public %s", why, a.host, rrView(r), w.Knot.Host())
			return "NOT FORWARDED: " + rrView(r)
		}
		if a.optIn && refused != 0 {
			t.Errorf("public_hosts names %s, yet %s{reason=internal_name} counted %g", a.host, refusedMetric, refused)
		}
		if len(broken) > 0 {
			return "forwarded (" + why + "); ACME lookups broken"
		}
		return "forwarded (" + why + "); ACME lookups pass"
	}
	if d := append(afterStart, after...); len(d) > 0 {
		t.Errorf("the internal-only host lost dnsmasq's answer through CoreDNS:\n%s", strings.Join(d, "\n"))
		return "POISONED: " + poisonedSummary(d)
	}
	if refused <= refusedBefore {
		t.Errorf("the host kept its answer, but %s{reason=internal_name} did not count the refusal", refusedMetric)
	}
	if len(broken) > 0 {
		return "held; ACME lookups broken"
	}
	return fmt.Sprintf("held (refused: internal_name %g); ACME lookups pass", refused)
}

// The host that the internal view knows for A only: a `template` after
// acmeforward answers it, every other type falls through to dnsmasq, which
// says NXDOMAIN (its zone is hidden there).
const (
	pfTemplateHost = "tmpl." + pfApex
	pfTemplateAddr = "10.20.0.99"
)

// templateRun is the learned row: a forwarded NS reply names a host that the
// internal view knows for A only. Asking it TXT would say NXDOMAIN and let the
// host be learned; its A must keep the template's answer.
func templateRun(t *testing.T, w *world.World) string {
	acme := world.Acme{Zones: []string{pfApex}, To: []netip.AddrPort{w.Knot.Addr}, Timeout: "1s", MaxTTL: 30}
	tmpl := fmt.Sprintf("    template IN A %s {\n        match ^%s\\.$\n        answer \"{{ .Name }} 60 IN A %s\"\n    }\n",
		pfApex, strings.ReplaceAll(pfTemplateHost, ".", "\\."), pfTemplateAddr)
	metrics := world.Addr(t)
	s := startCoreDNS(t, w, "coredns-poison-template", "    prometheus "+metrics.String()+"\n"+acme.String()+tmpl)
	internalA := func() string {
		r := ask(t, digUDP, s, pfTemplateHost, "A")
		if got := r.Records("A"); len(got) != 1 || got[0].Data != pfTemplateAddr {
			return rrView(r)
		}
		return ""
	}
	if got := internalA(); got != "" {
		t.Fatalf("before any attempt: A %s = %s, want the template's %s", pfTemplateHost, got, pfTemplateAddr)
	}
	r := ask(t, digUDP, s, "evil."+pfApex, "NS")
	t.Logf("NS evil.%s through CoreDNS: %s", pfApex, rrView(r))
	if !strings.Contains(rrView(r), " NS "+pfTemplateHost+".") {
		t.Fatalf("NS evil.%s: %s, want the public NS RRset (the attempt)", pfApex, rrView(r))
	}
	if got := internalA(); got != "" {
		t.Errorf("after the forwarded NS reply: A %s = %s, want the template's %s", pfTemplateHost, got, pfTemplateAddr)
		return "POISONED: " + pfTemplateHost + " A"
	}
	refused := refusedFacts(t, metrics)["internal_name"]
	if refused == 0 {
		t.Errorf("the host kept its answer, but %s{reason=internal_name} did not count the refusal", refusedMetric)
	}
	return fmt.Sprintf("held (refused: internal_name %g)", refused)
}
