package world_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// The pieces the conformance tests add to the world: knot on port 53 whose
// NS hosts resolve to knot itself, a challenge CNAME'd into a second zone,
// unbound following that CNAME, pebble answering over HTTPS, and a client
// in a mount namespace whose resolv.conf names a world server.
func TestWorldACMEPieces(t *testing.T) {
	target := "id1.auth.example.net"
	w := world.New(t, world.Options{
		Zones: []world.Zone{
			{Name: "example.com", Token: "apex", NSAtKnot: true, WWWChallengeCNAME: target},
			{Name: "auth.example.net", NSAtKnot: true, Extra: []string{`id1 10 IN TXT "delegated"`}},
		},
		KnotAddr: world.AddrPort(t, 53),
	})
	if w.Knot.Port() != 53 {
		t.Fatalf("knot on %s, want port 53", w.Knot.Addr)
	}
	knot := func(name, typ string) *world.Response {
		r, err := world.Dig(world.Query{Server: w.Knot.Addr, Name: name, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	world.WantA(t, knot("ns1.example.com", "A"), w.Knot.Host())
	world.WantA(t, knot("ns1.auth.example.net", "A"), w.Knot.Host())
	r := knot("_acme-challenge.www.example.com", "TXT")
	if cn := r.Records("CNAME"); len(cn) != 1 || cn[0].Data != target+"." || len(r.TXTs()) != 0 {
		t.Fatalf("want the CNAME alone (knot does not follow it out of the zone)\n%s", r)
	}
	world.WantTXT(t, knot(target, "TXT"), "delegated")

	for _, noCache := range []bool{false, true} {
		u := w.UnboundT(t, noCache)
		r, err := world.Dig(world.Query{Server: u.Addr, Name: "_acme-challenge.www.example.com", Type: "TXT"})
		if err != nil {
			t.Fatal(err)
		}
		world.WantTXT(t, r, "delegated")
		if r, err = world.Dig(world.Query{Server: u.Addr, Name: "example.org", Type: "SOA"}); err != nil || r.Rcode != "REFUSED" {
			t.Fatalf("unbound must refuse names outside the world: %v\n%v", err, r)
		}
	}

	p := w.PebbleT(t, w.Knot.Addr)
	if !strings.HasPrefix(p.DirectoryURL, "https://127.") {
		t.Fatalf("pebble directory %s", p.DirectoryURL)
	}

	rc := filepath.Join(t.TempDir(), "resolv.conf")
	if err := world.WriteResolvConf(rc, w.Knot.Addr); err != nil {
		t.Fatal(err)
	}
	if err := world.WriteResolvConf(rc+".bad", world.Addr(t)); err == nil {
		t.Fatal("a resolv.conf cannot name a port other than 53")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	argv := world.PodArgv(rc, "getent", "ahostsv4", "ns1.auth.example.net")
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), w.Knot.Host()) {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(host), w.Knot.Host()) {
		t.Fatal("the pod's resolv.conf leaked into the machine's")
	}
}
