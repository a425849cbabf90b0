package deploy_test

import (
	"net/netip"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// serveDemoToken runs corefile (a cluster Corefile from deploy/, acmeforward
// for example.com) on loopback against the demo world, where dnsmasq, the
// node's resolver here, hides example.com and knot, the public resolvers
// here, has the token: the token comes through, over UDP and TCP, and an
// internal name keeps dnsmasq's answer.
func serveDemoToken(t *testing.T, name, corefile string) {
	t.Helper()
	serveDemoTokenWith(t, name, corefile, nil)
}

// serveDemoTokenWith is serveDemoToken for a Corefile whose acmeforward
// block is in a file it imports: localizeTo gets the `to` arguments and
// rewrites that file (localize then expects no `to` line in corefile).
func serveDemoTokenWith(t *testing.T, name, corefile string, localizeTo func(to string)) {
	t.Helper()
	opts := world.DemoOptions()
	opts.KnotAddr, opts.DnsmasqAddr = netip.AddrPort{}, netip.AddrPort{}
	w := world.New(t, opts)
	listen := world.Addr(t)
	l := local{Listen: listen, Extra: world.Addr(t), APIAddr: world.Addr(t), Forward: w.Dnsmasq.Addr, To: w.Knot.Addr.String()}
	if localizeTo != nil {
		localizeTo(l.To)
		l.To = ""
	}
	text := localize(t, corefile, l)
	t.Logf("%s, localized:\n%s", name, text)
	s := w.CoreDNST(t, world.CoreDNS{Name: name, Binary: world.CoreDNSBinary(t), Corefile: text, Addr: listen})
	for _, tcp := range []bool{false, true} {
		r, err := world.Dig(world.Query{Server: s.Addr, Name: world.DemoZone.Challenge(), Type: "TXT", TCP: tcp})
		if err != nil {
			t.Fatal(err)
		}
		world.WantTXT(t, r, world.DemoZone.Token)
	}
	r, err := world.Dig(world.Query{Server: s.Addr, Name: world.InternalWWW.Name, Type: "A"})
	if err != nil {
		t.Fatal(err)
	}
	world.WantA(t, r, world.InternalWWW.Addr)
}
