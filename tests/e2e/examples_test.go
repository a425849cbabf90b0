package e2e_test

import (
	"net/netip"
	"os"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// The Rust example (crates/acmeforward/examples/udp_forwarder.rs) drives the core's Exchange
// over std::net. Between dig and knot on loopback it answers challenges of its zone with
// knot's records, TTLs capped to the default max_ttl (30 s), and refuses every other question
// (it has no next plugin to hand them to). Against fake upstreams: a truncated UDP reply sends
// it to TCP, and a forged UDP reply before the true one is skipped.
func TestUDPForwarderExample(t *testing.T) {
	t.Parallel()
	bin := os.Getenv(world.EnvUDPForwarder)
	if bin == "" {
		t.Fatalf("%s is not set: build the example with `make examples` and set it to "+
			"target/debug/examples/udp_forwarder (an absolute path)", world.EnvUDPForwarder)
	}
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s: not an executable file (%v)", world.EnvUDPForwarder, bin, err)
	}
	w := world.New(t, world.Standard())
	start := func(name string, upstream netip.AddrPort) *world.Server {
		addr := world.Addr(t)
		s, err := w.StartUDPServer(name, addr, []string{bin, addr.String(), upstream.String(), "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start("udp_forwarder", w.Knot.Addr)
	com := world.ExampleCom
	const maxTTL = 30 // ConfigBuilder's default

	r := ask(t, digUDP, s, com.Challenge(), "TXT")
	world.WantTXT(t, r, com.Token)
	if got, want := r.Answer[0].TTL, uint32(min(world.TokenTTL, maxTTL)); got != want {
		t.Fatalf("apex token TTL %d, want %d (knot has %d)\n%s", got, want, world.TokenTTL, r)
	}
	r = ask(t, digUDP, s, com.WWWChallenge(), "TXT")
	world.WantTXT(t, r, com.WWWToken)
	if got, want := r.Answer[0].TTL, uint32(min(world.WWWTokenTTL, maxTTL)); got != want {
		t.Fatalf("www token TTL %d, want %d (knot has %d)\n%s", got, want, world.WWWTokenTTL, r)
	}
	// Knot's negative answer comes back with its SOA.
	r = ask(t, digUDP, s, "_acme-challenge.nothere.example.com", "TXT")
	world.WantRcode(t, r, "NXDOMAIN")
	if len(r.Authority) != 1 || r.Authority[0].Type != "SOA" {
		t.Fatalf("want knot's SOA in authority\n%s", r)
	}
	// Not taken: another zone's challenge (knot has it) and an ordinary name.
	world.WantTXT(t, ask(t, digUDP, w.Knot, world.ExampleOrg.Challenge(), "TXT"), world.ExampleOrg.Token)
	world.WantRcode(t, ask(t, digUDP, s, world.ExampleOrg.Challenge(), "TXT"), "REFUSED")
	world.WantRcode(t, ask(t, digUDP, s, world.InternalCom.Name, "A"), "REFUSED")

	for _, tc := range []struct {
		mode  world.FakeMode
		token string
	}{{world.FakeTruncate, world.FakeTCPToken}, {world.FakeForgedIDFirst, world.FakeGoodToken}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			fake := startFake(t, tc.mode)
			s := start("udp_forwarder-"+tc.mode.String(), fake.Addr)
			world.WantTXT(t, ask(t, digUDP, s, com.Challenge(), "TXT"), tc.token)
		})
	}
}
