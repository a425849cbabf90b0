package e2e_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// startCoreDNS starts a CoreDNS in w with the standard server block and the
// given acmeforward block ("" for none).
func startCoreDNS(t *testing.T, w *world.World, name string, block string) *world.Server {
	t.Helper()
	addr := world.Addr(t)
	return w.CoreDNST(t, world.CoreDNS{Name: name, Binary: world.CoreDNSBinary(t), Corefile: world.ClusterCorefile(addr, w.Dnsmasq.Addr, block), Addr: addr})
}

type client struct {
	name string
	tcp  bool
	run  func(world.Query) (*world.Response, error)
}

var (
	digUDP  = client{"dig/udp", false, world.Dig}
	digTCP  = client{"dig/tcp", true, world.Dig}
	kdigUDP = client{"kdig/udp", false, world.KDig}
	kdigTCP = client{"kdig/tcp", true, world.KDig}
	both    = []client{digUDP, digTCP}
	all     = []client{digUDP, digTCP, kdigUDP, kdigTCP}
)

// ask runs the client against s; a client that gets no reply fails the test.
func ask(t *testing.T, c client, s *world.Server, name, typ string) *world.Response {
	t.Helper()
	r, err := c.run(world.Query{Server: s.Addr, Name: name, Type: typ, TCP: c.tcp})
	if err != nil {
		t.Fatalf("%s: no usable reply from %s: %v", c.name, s, err)
	}
	return r
}

// wantServfail: SERVFAIL, no records, and not a byte of the garbage.
func wantServfail(t *testing.T, r *world.Response) {
	t.Helper()
	world.WantRcode(t, r, "SERVFAIL")
	if len(r.Answer)+len(r.Authority)+len(r.Additional) != 0 {
		t.Fatalf("SERVFAIL with records\n%s", r)
	}
	if strings.Contains(r.Output, world.FakeGarbageToken) || strings.Contains(r.Output, world.FakeGoodToken) {
		t.Fatalf("upstream data reached the client\n%s", r)
	}
}

// metricSamples scrapes a prometheus endpoint (world.MetricSamples) or
// fails the test.
func metricSamples(t *testing.T, addr netip.AddrPort, name string) map[string]float64 {
	t.Helper()
	samples, err := world.MetricSamples(addr, name)
	if err != nil {
		t.Fatal(err)
	}
	return samples
}

// startCoreDNSMetrics is startCoreDNS with `prometheus` on a fresh loopback
// address, which it returns too.
func startCoreDNSMetrics(t *testing.T, w *world.World, name string, acme world.Acme) (*world.Server, netip.AddrPort) {
	t.Helper()
	metrics := world.Addr(t)
	return startCoreDNS(t, w, name, "    prometheus "+metrics.String()+"\n"+acme.String()), metrics
}

// outcome says what a client got from a forwarded question to a fake
// upstream: "GARBAGE" (bytes that should have been rejected), "servfail",
// "good" or "tcp" (the fake's true answer over UDP or TCP), "knot" (knot's
// token), or the rcode and records.
func outcome(r *world.Response) string {
	txt := r.TXTs()
	switch {
	case strings.Contains(r.Output, world.FakeGarbageToken):
		return "GARBAGE"
	case r.Rcode == "SERVFAIL" && len(r.Answer)+len(r.Authority)+len(r.Additional) == 0:
		return "servfail"
	case r.Rcode == "NOERROR" && len(txt) == 1 && len(r.Answer) == 1 && txt[0] == world.FakeGoodToken:
		return "good"
	case r.Rcode == "NOERROR" && len(txt) == 1 && len(r.Answer) == 1 && txt[0] == world.FakeTCPToken:
		return "tcp"
	case r.Rcode == "NOERROR" && len(txt) == 1 && len(r.Answer) == 1 && txt[0] == world.ExampleCom.Token:
		return "knot"
	}
	return fmt.Sprintf("%s with %d/%d/%d records", r.Rcode, len(r.Answer), len(r.Authority), len(r.Additional))
}

// Metric names of the exchange's failure and drop counters.
const (
	droppedMetric  = "coredns_acmeforward_dropped_replies_total"
	failuresMetric = "coredns_acmeforward_upstream_failures_total"
)

// replyCounts gives the dropped replies and the failed tries by reason, as
// "dropped/<reason>" and "failure/<reason>".
func replyCounts(t *testing.T, metrics netip.AddrPort) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for reason, v := range world.ByLabel(metricSamples(t, metrics, droppedMetric), "reason") {
		out["dropped/"+reason] = v
	}
	for reason, v := range world.ByLabel(metricSamples(t, metrics, failuresMetric), "reason") {
		out["failure/"+reason] = v
	}
	return out
}

// countDeltas is after - before for every key that moved, sorted, as text.
func countDeltas(before, after map[string]float64) string {
	var out []string
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out = append(out, fmt.Sprintf("%s +%g", k, d))
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, ", ")
}

// goroutines is CoreDNS's go_goroutines gauge.
func goroutines(t *testing.T, metrics netip.AddrPort) int {
	t.Helper()
	samples := metricSamples(t, metrics, "go_goroutines")
	v, ok := samples[""]
	if !ok {
		t.Fatalf("no go_goroutines at %s", metrics)
	}
	return int(v)
}

// sockets counts the sockets s holds open.
func sockets(t *testing.T, s *world.Server) int {
	t.Helper()
	n, err := world.ProcSockets(s.PID())
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return n
}
