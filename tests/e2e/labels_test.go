package e2e_test

import (
	"net/netip"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// dns-persist-01 and dns-account-01 records are forwarded like DNS-01's by
// default: knot has a TXT at _validation-persist.www, at
// _<account>._acme-challenge.www and at foo._acme-challenge.www, which
// dnsmasq hides. The first two come back through acmeforward (also with the
// account label in upper case, as DNS compares names); foo. keeps the
// inside answer. With `labels _validation-persist` only that label is
// forwarded.
func TestChallengeLabels(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	const (
		persistName  = "_validation-persist.www.example.com"
		persistToken = "persist-www-example-com"
		accountLabel = "_ujmmovf2vn55tgye"
		accountName  = accountLabel + "._acme-challenge.www.example.com"
		accountToken = "account-www-example-com"
		fooName      = "foo._acme-challenge.www.example.com"
		fooToken     = "foo-www-example-com"
	)
	com := world.ExampleCom
	com.Extra = []string{
		`_validation-persist.www 10 IN TXT "` + persistToken + `"`,
		accountLabel + `._acme-challenge.www 10 IN TXT "` + accountToken + `"`,
		`foo._acme-challenge.www 10 IN TXT "` + fooToken + `"`,
	}
	opts := world.Standard()
	opts.Zones = []world.Zone{com, world.ExampleOrg}
	w := world.New(t, opts)

	// knot has every record; dnsmasq none of them.
	world.WantTXT(t, ask(t, digUDP, w.Knot, persistName, "TXT"), persistToken)
	world.WantTXT(t, ask(t, digUDP, w.Knot, accountName, "TXT"), accountToken)
	world.WantTXT(t, ask(t, digUDP, w.Knot, fooName, "TXT"), fooToken)
	for _, n := range []string{persistName, accountName, fooName} {
		world.WantRcode(t, ask(t, digUDP, w.Dnsmasq, n, "TXT"), "NXDOMAIN")
	}

	acme := world.Acme{Zones: []string{"example.com"}, To: []netip.AddrPort{w.Knot.Addr}, Timeout: "1s", MaxTTL: 30}
	t.Run("defaults", func(t *testing.T) {
		s := startCoreDNS(t, w, "coredns-labels-defaults", acme.String())
		for _, c := range both {
			world.WantTXT(t, ask(t, c, s, persistName, "TXT"), persistToken)
			world.WantTXT(t, ask(t, c, s, accountName, "TXT"), accountToken)
			world.WantTXT(t, ask(t, c, s, "_UJMMOVF2VN55TGYE._acme-challenge.www.example.com", "TXT"), accountToken)
			world.WantRcode(t, ask(t, c, s, fooName, "TXT"), "NXDOMAIN")
			world.WantTXT(t, ask(t, c, s, com.WWWChallenge(), "TXT"), com.WWWToken)
		}
	})

	t.Run("labels", func(t *testing.T) {
		only := acme
		only.Labels = []string{"_validation-persist"}
		s := startCoreDNS(t, w, "coredns-labels-persist-only", only.String())
		for _, c := range both {
			world.WantTXT(t, ask(t, c, s, persistName, "TXT"), persistToken)
			world.WantRcode(t, ask(t, c, s, accountName, "TXT"), "NXDOMAIN")
			world.WantRcode(t, ask(t, c, s, fooName, "TXT"), "NXDOMAIN")
			world.WantRcode(t, ask(t, c, s, com.WWWChallenge(), "TXT"), "NXDOMAIN")
		}
	})
}
