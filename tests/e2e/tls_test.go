package e2e_test

import (
	"fmt"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// A `to tls://` upstream, as a forward line names one: unbound serving DNS
// over TLS on port 853 with a certificate from a CA made for the test,
// `tls CA` and `tls_servername` in the block. Port 853 of that address
// serves only TLS, so a token that comes back came over TLS, whatever the
// client's transport (the same address without tls:// gets no answer); a
// wrong server name gets SERVFAIL (the certificate is checked).
func TestToTLSUnbound(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Standard())
	u := w.UnboundTLST(t, "resolver.acmeforward.test")
	com := world.ExampleCom

	block := func(to, serverName string) string {
		return fmt.Sprintf("    acmeforward %s {\n        to %s\n        tls %s\n        tls_servername %s\n        timeout 2s\n    }\n",
			com.Name, to, u.CACert, serverName)
	}
	with := startCoreDNS(t, w, "coredns-tls", block(fmt.Sprintf("tls://%s", u.TLSAddr), u.ServerName))
	// The default port of tls:// is 853.
	wrongName := startCoreDNS(t, w, "coredns-tls-wrong-name", block(fmt.Sprintf("tls://%s", u.TLSAddr.Addr()), "other.acmeforward.test"))
	plain := startCoreDNS(t, w, "coredns-plain-to-853", block(u.TLSAddr.String(), u.ServerName))

	// Only the public view has the token: dnsmasq, the inside, says NXDOMAIN.
	world.WantRcode(t, ask(t, digUDP, w.Dnsmasq, com.Challenge(), "TXT"), "NXDOMAIN")

	for _, c := range all {
		t.Run(c.name, func(t *testing.T) {
			world.WantTXT(t, ask(t, c, with, com.Challenge(), "TXT"), com.Token)
			world.WantTXT(t, ask(t, c, with, com.WWWChallenge(), "TXT"), com.WWWToken)
			// Not a challenge: the inside answer stands.
			world.WantA(t, ask(t, c, with, world.InternalCom.Name, "A"), world.InternalCom.Addr)
		})
	}

	for _, ctl := range []struct {
		name string
		s    *world.Server
	}{{"wrong tls_servername", wrongName}, {"port 853 without tls://", plain}} {
		t.Run(ctl.name, func(t *testing.T) {
			for _, c := range both {
				r := ask(t, c, ctl.s, com.Challenge(), "TXT")
				world.WantRcode(t, r, "SERVFAIL")
				if len(r.Answer) != 0 {
					t.Fatalf("%s: an answer\n%s", c.name, r)
				}
			}
		})
	}
}
