package e2e_test

import (
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

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
	if strings.Contains(r.Output, garbageToken) || strings.Contains(r.Output, goodToken) {
		t.Fatalf("upstream data reached the client\n%s", r)
	}
}

// metricSamples scrapes a prometheus endpoint (on loopback) and gives the
// samples of the metric name, keyed by their label set as printed
// (`{reason="x",server="y"}`, or "" without labels). None: an empty map.
func metricSamples(t *testing.T, addr netip.AddrPort, name string) map[string]float64 {
	t.Helper()
	if err := world.MustLoopback(addr); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		samples[strings.TrimSpace(strings.TrimPrefix(strings.TrimSuffix(line, f[len(f)-1]), name))] += v
	}
	return samples
}
