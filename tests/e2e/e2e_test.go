// End-to-end tests: a CoreDNS build with acmeforward between real clients
// (dig, kdig) and real servers (knot as the public authoritative server,
// dnsmasq as the internal server that hides the public zones), all on
// loopback. The binary comes from ACMEFORWARD_COREDNS.
package e2e_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// The user's story: the cluster's CoreDNS forwards example.com to dnsmasq
// (domain-needed, no-resolv, local=/example.com/), so the challenge is
// NXDOMAIN inside while knot has it. With acmeforward the token comes back;
// everything else keeps its inside answer.
func TestSplitHorizon(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Standard())
	with := startCoreDNS(t, w, "coredns", world.Acme{Zones: []string{"example.com"}, To: []netip.AddrPort{w.Knot.Addr}, Timeout: "500ms", MaxTTL: 30}.String())
	without := startCoreDNS(t, w, "coredns-without-acmeforward", "")
	com := world.ExampleCom

	t.Run("token through CoreDNS", func(t *testing.T) {
		for _, c := range all {
			t.Run(c.name, func(t *testing.T) {
				r := ask(t, c, with, com.Challenge(), "TXT")
				world.WantTXT(t, r, com.Token)
				if !strings.EqualFold(r.Answer[0].Name, com.Challenge()+".") {
					t.Fatalf("answer owner %q\n%s", r.Answer[0].Name, r)
				}
				world.WantTXT(t, ask(t, c, with, com.WWWChallenge(), "TXT"), com.WWWToken)
			})
		}
	})

	t.Run("CNAME chain", func(t *testing.T) {
		for _, c := range both {
			r := ask(t, c, with, com.AliasChallenge(), "TXT")
			world.WantTXT(t, r, com.WWWToken)
			cn := r.Records("CNAME")
			if len(cn) != 1 || !strings.EqualFold(cn[0].Data, com.WWWChallenge()+".") {
				t.Fatalf("%s: want the CNAME to %s\n%s", c.name, com.WWWChallenge(), r)
			}
		}
	})

	t.Run("mixed-case question", func(t *testing.T) {
		for _, c := range both {
			q := "_ACME-Challenge.WwW.Example.COM"
			r := ask(t, c, with, q, "TXT")
			world.WantTXT(t, r, com.WWWToken)
			if r.Answer[0].Name != q+"." {
				t.Fatalf("%s: answer owner %q, want the client's case %q\n%s", c.name, r.Answer[0].Name, q+".", r)
			}
		}
	})

	t.Run("public NXDOMAIN comes back", func(t *testing.T) {
		for _, c := range both {
			r := ask(t, c, with, "_acme-challenge.nothere.example.com", "TXT")
			world.WantRcode(t, r, "NXDOMAIN")
			if len(r.Authority) != 1 || r.Authority[0].Type != "SOA" {
				t.Fatalf("%s: want knot's SOA in authority\n%s", c.name, r)
			}
		}
	})

	t.Run("internal names keep dnsmasq's answers", func(t *testing.T) {
		for _, c := range all {
			world.WantA(t, ask(t, c, with, world.InternalCom.Name, "A"), world.InternalCom.Addr)
			// www is public at knot (192.0.2.80) but internal here.
			world.WantA(t, ask(t, c, with, world.InternalWWW.Name, "A"), world.InternalWWW.Addr)
			world.WantA(t, ask(t, c, with, world.InternalOrg.Name, "A"), world.InternalOrg.Addr)
			// Not a challenge: the inside view's NXDOMAIN stands.
			world.WantRcode(t, ask(t, c, with, "acme-challenge.example.com", "TXT"), "NXDOMAIN")
			world.WantRcode(t, ask(t, c, with, "nothere.example.com", "A"), "NXDOMAIN")
		}
	})

	t.Run("unlisted zone passes to dnsmasq", func(t *testing.T) {
		org := world.ExampleOrg
		// knot has the example.org token ...
		world.WantTXT(t, ask(t, digUDP, w.Knot, org.Challenge(), "TXT"), org.Token)
		// ... but acmeforward lists only example.com, so dnsmasq's answer stands.
		for _, c := range all {
			world.WantRcode(t, ask(t, c, with, org.Challenge(), "TXT"), "NXDOMAIN")
			world.WantRcode(t, ask(t, c, with, org.WWWChallenge(), "TXT"), "NXDOMAIN")
		}
	})

	t.Run("negative control without acmeforward", func(t *testing.T) {
		// The same Corefile minus the acmeforward block: the user's bug.
		for _, c := range all {
			world.WantRcode(t, ask(t, c, without, com.Challenge(), "TXT"), "NXDOMAIN")
			world.WantRcode(t, ask(t, c, without, com.WWWChallenge(), "TXT"), "NXDOMAIN")
			world.WantA(t, ask(t, c, without, world.InternalCom.Name, "A"), world.InternalCom.Addr)
		}
		// dnsmasq itself, asked directly, says the same.
		world.WantRcode(t, ask(t, digUDP, w.Dnsmasq, com.Challenge(), "TXT"), "NXDOMAIN")
	})

	t.Run("token change is seen at once", func(t *testing.T) {
		// The server block has `cache 30`; acmeforward sits before it and its
		// replies are not cached, so a new token shows on the next lookup.
		world.WantTXT(t, ask(t, digUDP, with, com.Challenge(), "TXT"), com.Token)
		if err := w.UpdateTXT(com.Name, com.Challenge(), world.TokenTTL, "rotated-token"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := w.UpdateTXT(com.Name, com.Challenge(), world.TokenTTL, com.Token); err != nil {
				t.Error(err)
			}
		})
		world.WantTXT(t, ask(t, digUDP, w.Knot, com.Challenge(), "TXT"), "rotated-token")
		for _, c := range both {
			world.WantTXT(t, ask(t, c, with, com.Challenge(), "TXT"), "rotated-token")
		}
	})
}

// Without zones, every challenge name the server block receives is forwarded.
func TestNoZoneMeansAllZones(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Standard())
	s := startCoreDNS(t, w, "coredns", world.Acme{To: []netip.AddrPort{w.Knot.Addr}, Timeout: "500ms", MaxTTL: -1}.String())
	for _, c := range both {
		world.WantTXT(t, ask(t, c, s, world.ExampleCom.Challenge(), "TXT"), world.ExampleCom.Token)
		world.WantTXT(t, ask(t, c, s, world.ExampleOrg.Challenge(), "TXT"), world.ExampleOrg.Token)
		world.WantA(t, ask(t, c, s, world.InternalOrg.Name, "A"), world.InternalOrg.Addr)
	}
}

// TTLs in forwarded replies are capped by max_ttl; lower TTLs stay.
func TestMaxTTL(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Standard())
	com := world.ExampleCom
	for _, tc := range []struct {
		maxTTL int // -1: the default
		cap    uint32
	}{{30, 30}, {5, 5}, {0, 0}, {-1, 30}, {86400, 86400}} {
		t.Run("max_ttl="+strconv.Itoa(tc.maxTTL), func(t *testing.T) {
			s := startCoreDNS(t, w, "coredns-max-ttl", world.Acme{Zones: []string{"example.com"}, To: []netip.AddrPort{w.Knot.Addr}, Timeout: "500ms", MaxTTL: tc.maxTTL}.String())
			capped := func(orig uint32) uint32 { return min(orig, tc.cap) }
			for _, c := range both {
				r := ask(t, c, s, com.Challenge(), "TXT")
				world.WantTXT(t, r, com.Token)
				if got, want := r.Answer[0].TTL, capped(world.TokenTTL); got != want {
					t.Fatalf("%s: apex token TTL %d, want %d (knot has %d)\n%s", c.name, got, want, world.TokenTTL, r)
				}
				r = ask(t, c, s, com.WWWChallenge(), "TXT")
				world.WantTXT(t, r, com.WWWToken)
				if got, want := r.Answer[0].TTL, capped(world.WWWTokenTTL); got != want {
					t.Fatalf("%s: www token TTL %d, want %d (knot has %d)\n%s", c.name, got, want, world.WWWTokenTTL, r)
				}
				r = ask(t, c, s, com.AliasChallenge(), "TXT")
				for _, rr := range r.Answer {
					orig := uint32(world.TokenTTL)
					if rr.Type == "TXT" {
						orig = world.WWWTokenTTL
					}
					if rr.TTL != capped(orig) {
						t.Fatalf("%s: %s TTL %d, want %d\n%s", c.name, rr.Type, rr.TTL, capped(orig), r)
					}
				}
				// The negative answer: SOA TTL and SOA MINIMUM are capped.
				r = ask(t, c, s, "_acme-challenge.nothere.example.com", "TXT")
				world.WantRcode(t, r, "NXDOMAIN")
				if len(r.Authority) != 1 || r.Authority[0].Type != "SOA" {
					t.Fatalf("%s: want a SOA in authority\n%s", c.name, r)
				}
				soa := r.Authority[0]
				f := strings.Fields(soa.Data)
				if len(f) != 7 {
					t.Fatalf("%s: SOA data %q", c.name, soa.Data)
				}
				minimum, _ := strconv.ParseUint(f[6], 10, 32)
				if soa.TTL != capped(world.SOATTL) || uint32(minimum) != capped(world.SOATTL) {
					t.Fatalf("%s: SOA TTL %d, MINIMUM %d; want both %d\n%s", c.name, soa.TTL, minimum, capped(world.SOATTL), r)
				}
			}
		})
	}
}

// An upstream that is down, or says nothing, gives SERVFAIL within the
// configured timeout: dig (waiting up to 5s, one try) gets a reply.
func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Standard())
	down := world.Addr(t) // nothing listens here
	silent := startFake(t, world.FakeSilent)
	for _, tc := range []struct {
		name string
		to   netip.AddrPort
	}{{"nothing listening", down}, {"silent", silent.Addr}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startCoreDNS(t, w, "coredns-down", world.Acme{Zones: []string{"example.com"}, To: []netip.AddrPort{tc.to}, Timeout: "500ms", MaxTTL: 30}.String())
			for _, c := range all {
				wantServfail(t, ask(t, c, s, world.ExampleCom.Challenge(), "TXT"))
				// The rest of the world is not affected.
				world.WantA(t, ask(t, c, s, world.InternalCom.Name, "A"), world.InternalCom.Addr)
			}
		})
	}
	if silent.Hits() == 0 {
		t.Fatal("the silent upstream was never asked")
	}
}

// An upstream that answers garbage gives SERVFAIL; no garbage reaches the
// client.
func TestUpstreamGarbage(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Standard())
	for _, mode := range []world.FakeMode{world.FakeRandom, world.FakeWrongID, world.FakeWrongCase, world.FakeWrongQuestion, world.FakeForeign, world.FakeNotResponse, world.FakeServfail, world.FakeRefused} {
		t.Run(mode.String(), func(t *testing.T) {
			f := startFake(t, mode)
			s := startCoreDNS(t, w, "coredns-"+mode.String(), world.Acme{Zones: []string{"example.com"}, To: []netip.AddrPort{f.Addr}, Timeout: "500ms", MaxTTL: 30}.String())
			for _, c := range all {
				before := f.Hits()
				wantServfail(t, ask(t, c, s, world.ExampleCom.Challenge(), "TXT"))
				if f.Hits() == before {
					t.Fatalf("%s: the fake upstream was never asked", c.name)
				}
			}
		})
	}
}

// The fake upstream's good replies pass, over UDP and TCP: the garbage tests
// fail for the garbage, not for a broken fake. A truncated UDP reply is
// retried over TCP.
func TestFakeUpstreamGood(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Standard())
	good := startFake(t, world.FakeGood)
	trunc := startFake(t, world.FakeTruncate)
	s := startCoreDNS(t, w, "coredns-good", world.Acme{Zones: []string{"example.com"}, To: []netip.AddrPort{good.Addr}, Timeout: "500ms", MaxTTL: 30}.String())
	st := startCoreDNS(t, w, "coredns-truncate", world.Acme{Zones: []string{"example.com"}, To: []netip.AddrPort{trunc.Addr}, Timeout: "500ms", MaxTTL: 30}.String())
	for _, c := range all {
		world.WantTXT(t, ask(t, c, s, world.ExampleCom.Challenge(), "TXT"), world.FakeGoodToken)
		world.WantTXT(t, ask(t, c, st, world.ExampleCom.Challenge(), "TXT"), world.FakeTCPToken)
	}
}

// With two upstreams where the first fails, the second's answer comes back.
func TestFailover(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Standard())
	down := world.Addr(t)
	for _, first := range []struct {
		name string
		addr func(t *testing.T) netip.AddrPort
	}{
		{"nothing listening", func(*testing.T) netip.AddrPort { return down }},
		{"silent", func(t *testing.T) netip.AddrPort { return startFake(t, world.FakeSilent).Addr }},
		{"wrong-id", func(t *testing.T) netip.AddrPort { return startFake(t, world.FakeWrongID).Addr }},
		{"random-bytes", func(t *testing.T) netip.AddrPort { return startFake(t, world.FakeRandom).Addr }},
		{"servfail", func(t *testing.T) netip.AddrPort { return startFake(t, world.FakeServfail).Addr }},
	} {
		t.Run(first.name, func(t *testing.T) {
			s := startCoreDNS(t, w, "coredns-failover", world.Acme{Zones: []string{"example.com"}, To: []netip.AddrPort{first.addr(t), w.Knot.Addr}, Timeout: "500ms", MaxTTL: 30}.String())
			for _, c := range all {
				world.WantTXT(t, ask(t, c, s, world.ExampleCom.Challenge(), "TXT"), world.ExampleCom.Token)
			}
		})
	}
}
