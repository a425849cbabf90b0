package deploy_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// TestImageCorefileStarts: the image's default Corefile (deploy/image)
// starts with the real plugin, its DNS-over-TLS upstreams and
// tls_servername kept but moved to a loopback address where nothing
// listens (the test never reaches the public resolvers), and forwards an
// ordinary name to the node's resolver (the world's dnsmasq here).
func TestImageCorefileStarts(t *testing.T) {
	corefile := string(repoFile(t, "deploy/image/Corefile"))
	for _, want := range []string{"acmeforward", "to tls://", "tls_servername "} {
		if !strings.Contains(corefile, want) {
			t.Fatalf("deploy/image/Corefile lacks %q", want)
		}
	}
	opts := world.DemoOptions()
	opts.KnotAddr, opts.DnsmasqAddr = netip.AddrPort{}, netip.AddrPort{}
	w := world.New(t, opts)
	listen := world.Addr(t)
	text := localize(t, corefile, local{
		Listen: listen, Extra: world.Addr(t), Forward: w.Dnsmasq.Addr,
		To: "tls://" + world.Addr(t).String(),
	})
	t.Logf("deploy/image/Corefile, localized:\n%s", text)
	s := w.CoreDNST(t, world.CoreDNS{Name: "coredns-image-corefile", Binary: world.CoreDNSBinary(t), Corefile: text, Addr: listen})
	r, err := world.Dig(world.Query{Server: s.Addr, Name: world.InternalWWW.Name, Type: "A"})
	if err != nil {
		t.Fatal(err)
	}
	world.WantA(t, r, world.InternalWWW.Addr)
}
