package e2e_test

// Poisoning attempts: someone who can publish records in a public zone that
// acmeforward forwards (a listed zone, a `delegated` zone, or with no zone
// listed any zone at all, such as one of their own) publishes a CNAME or an
// NS record that names an internal host, then makes a pod do the lookups of
// a propagation check. acmeforward must not start sending that internal
// host's lookups to the public view: afterwards every internal name still
// gets exactly dnsmasq's answer through CoreDNS, while the public lookups
// themselves still work.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"

	"github.com/acmeforward/acmeforward/tests/world"
)

// The internal hosts the attempts aim at. dnsmasq answers them (A, AAAA,
// TXT, MX); knot has a public "shadow" of each with another address and
// TXT, so a poisoned answer shows as the public one. The shadow addresses
// are in 127.0.66.0/24, where nothing listens: a resolver or acmeforward
// that takes one as a nameserver sends nothing off loopback.
type poisonHost struct {
	name, addr, addr6, txt string // the internal answer
	shadow                 string // the public A
	label                  string // in the attempts' owner names
	what                   string // in the attempts' names
}

var (
	phIntranet = poisonHost{"intranet.example.com", "10.11.12.21", "fd00::21", "internal-intranet", "127.0.66.1", "intranet", "same-zone-internal"}
	phDB       = poisonHost{"db.corp.internal", "10.20.0.5", "fd00::5", "internal-db", "127.0.66.2", "corp", "other-internal-zone"}
	phIngress  = poisonHost{"ingress.svc.cluster.local", "10.96.0.10", "fd00::10", "internal-ingress", "127.0.66.3", "cluster", "cluster-name"}
	phHosts    = []poisonHost{phIntranet, phDB, phIngress}
	// NS attempts name hosts of other zones than the attacker's.
	phNSHosts = []poisonHost{phDB, phIngress}
)

// The types an application asks for; each must keep dnsmasq's answer.
var poisonTypes = []string{"A", "AAAA", "TXT", "MX", "SRV", "CNAME"}

const (
	poisonDelegated = "auth.example.net"
	poisonAttacker  = "attacker.net"
)

// poisonSource is a zone where the attacker can publish: CNAME attempts are
// `_acme-challenge.cname-<x>.<zone>` (or `cname-<x>.<zone>` in the
// delegated zone, where every name is a challenge name), NS attempts are
// child zones `ns-<x>.<zone>` whose apex NS RRset holds the zone's own
// nameserver and the internal host.
type poisonSource struct {
	zone     string
	listed   bool // forwarded with `acmeforward example.com`
	noZones  bool // forwarded with `acmeforward` (no zone)
	cnamePre string
}

var poisonSources = []poisonSource{
	{"example.com", true, true, "_acme-challenge."},
	{poisonDelegated, true, true, ""},
	{poisonAttacker, false, true, "_acme-challenge."},
}

// poisonAttempt is one row of the table.
type poisonAttempt struct {
	src    poisonSource
	ns     bool   // an NS attempt (else CNAME)
	owner  string // the CNAME's owner, or the child zone with the NS RRset
	target poisonHost
}

func (a poisonAttempt) name() string {
	kind := "CNAME"
	if a.ns {
		kind = "NS"
	}
	return fmt.Sprintf("%s-%s-via-%s", kind, a.target.what, a.src.zone)
}

func poisonAttempts() []poisonAttempt {
	var out []poisonAttempt
	for _, src := range poisonSources {
		for _, h := range phHosts {
			out = append(out, poisonAttempt{src: src, owner: src.cnamePre + "cname-" + h.label + "." + src.zone, target: h})
		}
		for _, h := range phNSHosts {
			out = append(out, poisonAttempt{src: src, ns: true, owner: "ns-" + h.label + "." + src.zone, target: h})
		}
	}
	return out
}

func poisonToken(zone string) string { return "token-" + strings.ReplaceAll(zone, ".", "-") }

// poisonOptions is the world of the attempts. knot is on port 53 (in
// authoritative mode acmeforward asks the zones' nameservers there), every
// zone's nameserver is knot itself, and dnsmasq hides example.com,
// auth.example.net, corp.internal and cluster.local while resolving every
// other name (attacker.net) through unbound, as an internal server does.
func poisonOptions(t *testing.T) world.Options {
	var zones []world.Zone
	for _, src := range poisonSources {
		z := world.Zone{Name: src.zone, Token: poisonToken(src.zone), NSAtKnot: true}
		for _, h := range phHosts {
			z.Extra = append(z.Extra, fmt.Sprintf("%scname-%s IN CNAME %s.", src.cnamePre, h.label, h.name))
		}
		if src.zone == "example.com" {
			z.Extra = append(z.Extra, "intranet IN A "+phIntranet.shadow, `intranet IN TXT "public-view"`)
		}
		zones = append(zones, z)
		for _, h := range phNSHosts {
			child := "ns-" + h.label + "." + src.zone
			zones = append(zones, world.Zone{Name: child, Token: poisonToken(child), NSAtKnot: true, Extra: []string{"@ IN NS " + h.name + "."}})
		}
	}
	// The public shadows of the other internal zones.
	zones = append(zones,
		world.Zone{Name: "corp.internal", NSAtKnot: true, Extra: []string{"db IN A " + phDB.shadow, `db IN TXT "public-view"`, `_acme-challenge.db IN TXT "public-view"`}},
		world.Zone{Name: "cluster.local", NSAtKnot: true, Extra: []string{"ingress.svc IN A " + phIngress.shadow, `ingress.svc IN TXT "public-view"`, `_acme-challenge.ingress.svc IN TXT "public-view"`}},
	)
	opts := world.Options{
		Zones:             zones,
		Hidden:            []string{"example.com", poisonDelegated, "corp.internal", "cluster.local"},
		KnotAddr:          world.AddrPort(t, 53),
		InternalRecursion: true,
	}
	addPrefetchWorld(&opts, opts.KnotAddr.Addr())
	for _, h := range phHosts {
		zone := h.name[strings.Index(h.name, ".")+1:]
		opts.Hosts = append(opts.Hosts, world.HostRecord{Name: h.name, Addr: h.addr, Addr6: h.addr6})
		opts.TXT = append(opts.TXT, world.InternalTXT{Name: h.name, Text: h.txt})
		opts.MX = append(opts.MX, world.InternalMX{Name: h.name, Exchange: "mail." + zone, Pref: 10})
	}
	return opts
}

// rrView is what a comparison looks at: the rcode and the answer and
// authority records (owner lower-cased, TTL left out), sorted.
func rrView(r *world.Response) string {
	var rrs []string
	for _, rr := range append(append([]world.RR(nil), r.Answer...), r.Authority...) {
		rrs = append(rrs, strings.ToLower(rr.Name)+" "+rr.Type+" "+rr.Data)
	}
	slices.Sort(rrs)
	return r.Rcode + " [" + strings.Join(rrs, "; ") + "]"
}

// internalViews gives dnsmasq's answer (rrView) for every internal host and
// type, keyed "name type".
func internalViews(t *testing.T, w *world.World) map[string]string {
	t.Helper()
	views := map[string]string{}
	for _, h := range phHosts {
		for _, typ := range poisonTypes {
			views[h.name+" "+typ] = rrView(ask(t, digUDP, w.Dnsmasq, h.name, typ))
		}
	}
	return views
}

// internalDiffs asks every internal host, for every type, through s and
// compares with dnsmasq's answer; it gives one line per difference.
func internalDiffs(t *testing.T, s *world.Server, internal map[string]string) []string {
	t.Helper()
	var diffs []string
	for _, h := range phHosts {
		for _, typ := range poisonTypes {
			if got, want := rrView(ask(t, digUDP, s, h.name, typ)), internal[h.name+" "+typ]; got != want {
				diffs = append(diffs, fmt.Sprintf("%s %s: %s, internal %s", h.name, typ, got, want))
			}
		}
	}
	return diffs
}

// propagationLookups makes, through s, the lookups of propagation checks
// starting at name: TXT and CNAME, the SOA and NS of the name and each
// ancestor below the root, the A and AAAA of every nameserver named, and the
// same for every CNAME target met. It gives the lookups it made.
func propagationLookups(t *testing.T, s *world.Server, name string) []string {
	t.Helper()
	var made []string
	asked := map[string]bool{}
	look := func(n, typ string) *world.Response {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if asked[n+" "+typ] {
			return nil
		}
		asked[n+" "+typ] = true
		r := ask(t, digUDP, s, n, typ)
		made = append(made, fmt.Sprintf("%s %s %s", typ, n, r.Rcode))
		return r
	}
	queue := []string{name}
	for len(queue) > 0 && len(asked) < 200 {
		n := queue[0]
		queue = queue[1:]
		var hosts []string
		for _, typ := range []string{"TXT", "CNAME"} {
			if r := look(n, typ); r != nil {
				for _, rr := range r.Records("CNAME") {
					queue = append(queue, rr.Data)
				}
			}
		}
		for a := strings.ToLower(strings.TrimSuffix(n, ".")); a != ""; a = parent(a) {
			look(a, "SOA")
			if r := look(a, "NS"); r != nil {
				for _, rr := range append(append([]world.RR(nil), r.Answer...), r.Authority...) {
					if rr.Type == "NS" {
						hosts = append(hosts, rr.Data)
					}
				}
			}
		}
		for _, h := range hosts {
			look(h, "A")
			look(h, "AAAA")
		}
	}
	return made
}

// parent is the name one label up ("" above a top-level domain).
func parent(name string) string {
	if i := strings.Index(name, "."); i >= 0 {
		return name[i+1:]
	}
	return ""
}

// poisonMode is a configuration of the attempts' CoreDNS.
type poisonMode struct {
	upstream string // "recursive" or "authoritative"
	zones    string // "listed" or "no-zones"
}

// Each attempt runs against a fresh CoreDNS (nothing learned from another
// attempt), in recursive mode (`to` knot) and in authoritative mode (`to` a
// resolver, the zones' nameservers asked directly), with example.com listed
// and with no zone listed, `delegated auth.example.net` in both.
func TestPoisoning(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t)
	w := world.New(t, poisonOptions(t))
	resolver := w.UnboundT(t, true)
	internal := internalViews(t, w)

	var mu sync.Mutex
	outcomes := map[string]string{}
	var order []string
	t.Cleanup(func() {
		var b strings.Builder
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "upstream/zones/attempt\trecord\toutcome\n")
		for _, k := range order {
			if o, ok := outcomes[k]; ok {
				fmt.Fprintf(tw, "%s\t%s\n", k, o)
			}
		}
		_ = tw.Flush()
		t.Logf("poisoning attempts (held: every internal name kept dnsmasq's answer for %s):\n%s", strings.Join(poisonTypes, ", "), b.String())
	})
	run := func(key, record string, f func(t *testing.T) string) {
		order = append(order, key)
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			mu.Lock()
			outcomes[key] = record + "\t(did not finish)"
			mu.Unlock()
			outcome := f(t)
			mu.Lock()
			outcomes[key] = record + "\t" + outcome
			mu.Unlock()
		})
	}

	for _, upstream := range []string{"recursive", "authoritative"} {
		for _, a := range prefetchAttempts(upstream) {
			record := fmt.Sprintf("%s NS %s.", a.zone, a.host)
			if a.change {
				record = "later " + record
			}
			run(upstream+"/prefetch/"+a.name, record, func(t *testing.T) string {
				return prefetchRun(t, w, resolver, upstream, a)
			})
		}
	}
	run("recursive/learned/NS-host-known-inside-for-A-only", fmt.Sprintf("evil.%s NS %s. (template IN A inside)", pfApex, pfTemplateHost), func(t *testing.T) string {
		return templateRun(t, w)
	})
	for _, m := range []poisonMode{{"recursive", "listed"}, {"recursive", "no-zones"}, {"authoritative", "listed"}, {"authoritative", "no-zones"}} {
		start := func(t *testing.T) (*world.Server, netip.AddrPort) {
			acme := world.Acme{To: []netip.AddrPort{w.Knot.Addr}, Timeout: "1s", MaxTTL: 30, Delegated: []string{poisonDelegated}}
			if m.zones == "listed" {
				acme.Zones = []string{"example.com"}
			}
			if m.upstream == "authoritative" {
				acme.To = []netip.AddrPort{resolver.Addr}
				acme.UpstreamMode = "authoritative"
				acme.AllowNS = []string{"127.0.0.0/8"}
			}
			addr, metrics := world.Addr(t), world.Addr(t)
			block := "    prometheus " + metrics.String() + "\n" + acme.String()
			return w.CoreDNST(t, world.CoreDNS{Name: "coredns-poison", Binary: bin, Corefile: world.ClusterCorefile(addr, w.Dnsmasq.Addr, block), Addr: addr}), metrics
		}
		prefix := m.upstream + "/" + m.zones + "/"
		// The control: before any attempt, this configuration gives every
		// internal name dnsmasq's answer.
		run(prefix+"no-attempt", "(none)", func(t *testing.T) string {
			s, _ := start(t)
			if d := internalDiffs(t, s, internal); len(d) > 0 {
				t.Fatalf("without any attempt, internal names differ through CoreDNS:\n%s", strings.Join(d, "\n"))
			}
			return "held"
		})
		for _, a := range poisonAttempts() {
			if (m.zones == "listed" && !a.src.listed) || (m.zones == "no-zones" && !a.src.noZones) {
				continue // not forwarded at all in this mode: nothing to attempt
			}
			record := fmt.Sprintf("%s CNAME %s.", a.owner, a.target.name)
			if a.ns {
				record = fmt.Sprintf("%s NS %s.", a.owner, a.target.name)
			}
			run(prefix+a.name(), record, func(t *testing.T) string {
				s, metrics := start(t)
				return poisonRun(t, w, s, metrics, a, internal)
			})
		}
	}
}

// poisonRun makes one attempt through s and says what became of it.
func poisonRun(t *testing.T, w *world.World, s *world.Server, metrics netip.AddrPort, a poisonAttempt, internal map[string]string) string {
	t.Helper()
	refusedBefore := refusedFacts(t, metrics)
	start := a.owner
	if a.ns {
		start = "_acme-challenge." + a.owner
	}
	made := propagationLookups(t, s, start)
	t.Logf("lookups through CoreDNS:\n  %s", strings.Join(made, "\n  "))

	// The public lookups still work.
	var broken []string
	if a.ns {
		if r := ask(t, digUDP, s, "_acme-challenge."+a.owner, "TXT"); !slices.Equal(r.TXTs(), []string{poisonToken(a.owner)}) {
			broken = append(broken, fmt.Sprintf("TXT _acme-challenge.%s: %s", a.owner, rrView(r)))
		}
		ns1 := "ns1." + a.owner
		if r := ask(t, digUDP, s, ns1, "A"); len(r.Records("A")) != 1 || r.Records("A")[0].Data != w.Knot.Host() {
			broken = append(broken, fmt.Sprintf("A %s (its own nameserver): %s", ns1, rrView(r)))
		}
	} else {
		r := ask(t, digUDP, s, a.owner, "CNAME")
		if cn := r.Records("CNAME"); len(cn) != 1 || !strings.EqualFold(cn[0].Data, a.target.name+".") {
			broken = append(broken, fmt.Sprintf("CNAME %s: %s", a.owner, rrView(r)))
		}
	}

	diffs := internalDiffs(t, s, internal)
	// What acmeforward says it refused during the attempt.
	refused := refusedFacts(t, metrics)
	var reasons []string
	for reason, n := range refused {
		if d := n - refusedBefore[reason]; d > 0 {
			reasons = append(reasons, fmt.Sprintf("%s %g", reason, d))
		}
	}
	slices.Sort(reasons)
	var outcome []string
	if len(diffs) == 0 {
		outcome = append(outcome, fmt.Sprintf("held (refused: %s)", strings.Join(reasons, ", ")))
		// The attempt's record reached acmeforward in a forwarded reply (the
		// public lookups show it): holding means it refused a fact.
		if len(reasons) == 0 {
			t.Errorf("the attempt held, but %s counted no refused fact", refusedMetric)
		}
	} else {
		outcome = append(outcome, "POISONED: "+poisonedSummary(diffs))
		t.Errorf("after the attempt, internal names no longer get dnsmasq's answer through CoreDNS:\n%s", strings.Join(diffs, "\n"))
	}
	if len(broken) > 0 {
		outcome = append(outcome, "public lookups broken: "+strings.Join(broken, "; "))
		t.Errorf("the public lookups of the attempt no longer work:\n%s", strings.Join(broken, "\n"))
	}
	return strings.Join(outcome, "; ")
}

const refusedMetric = "coredns_acmeforward_refused_facts_total"

// refusedFacts gives the refused facts counted at the metrics endpoint, by
// reason.
func refusedFacts(t *testing.T, metrics netip.AddrPort) map[string]float64 {
	t.Helper()
	return world.ByLabel(metricSamples(t, metrics, refusedMetric), "reason")
}

// poisonedSummary: "db.corp.internal A,AAAA; ..." from the diff lines.
func poisonedSummary(diffs []string) string {
	byName := map[string][]string{}
	var names []string
	for _, d := range diffs {
		f := strings.Fields(d)
		if _, ok := byName[f[0]]; !ok {
			names = append(names, f[0])
		}
		byName[f[0]] = append(byName[f[0]], strings.TrimSuffix(f[1], ":"))
	}
	var out []string
	for _, n := range names {
		out = append(out, n+" "+strings.Join(byName[n], ","))
	}
	return strings.Join(out, "; ")
}
