package world_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

type client struct {
	name string
	run  func(world.Query) (*world.Response, error)
}

var clients = []client{{"dig", world.Dig}, {"kdig", world.KDig}}

func ask(t *testing.T, c client, q world.Query) *world.Response {
	t.Helper()
	r, err := c.run(q)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return r
}

// The world on its own, with no CoreDNS: knot has the tokens, dnsmasq hides
// them. This is the user's problem, reproduced.
func TestWorldServers(t *testing.T) {
	w := world.New(t, world.Standard())
	if w.Knot.Addr.Addr() == w.Dnsmasq.Addr.Addr() {
		t.Fatalf("knot and dnsmasq share an IP: %s %s", w.Knot.Addr, w.Dnsmasq.Addr)
	}
	for _, c := range clients {
		for _, tcp := range []bool{false, true} {
			name := c.name + map[bool]string{false: "/udp", true: "/tcp"}[tcp]
			t.Run(name, func(t *testing.T) {
				knot := func(n, typ string) *world.Response {
					return ask(t, c, world.Query{Server: w.Knot.Addr, Name: n, Type: typ, TCP: tcp})
				}
				dnsmasq := func(n, typ string) *world.Response {
					return ask(t, c, world.Query{Server: w.Dnsmasq.Addr, Name: n, Type: typ, TCP: tcp})
				}
				for _, z := range []world.Zone{world.ExampleCom, world.ExampleOrg} {
					r := knot(z.Challenge(), "TXT")
					world.WantTXT(t, r, z.Token)
					if !r.HasFlag("aa") || r.Answer[0].TTL != world.TokenTTL {
						t.Fatalf("want an authoritative answer with TTL %d\n%s", world.TokenTTL, r)
					}
					world.WantTXT(t, knot(z.WWWChallenge(), "TXT"), z.WWWToken)
					r = knot(z.AliasChallenge(), "TXT")
					world.WantTXT(t, r, z.WWWToken)
					if cn := r.Records("CNAME"); len(cn) != 1 || cn[0].Data != z.WWWChallenge()+"." {
						t.Fatalf("want the CNAME in the answer\n%s", r)
					}
					world.WantA(t, knot("www."+z.Name, "A"), z.WWWAddr)
					r = knot("_acme-challenge.nothere."+z.Name, "TXT")
					world.WantRcode(t, r, "NXDOMAIN")
					if len(r.Authority) != 1 || r.Authority[0].Type != "SOA" || r.Authority[0].TTL != world.SOATTL {
						t.Fatalf("want the SOA with TTL %d in authority\n%s", world.SOATTL, r)
					}

					// Inside, the challenge does not exist.
					world.WantRcode(t, dnsmasq(z.Challenge(), "TXT"), "NXDOMAIN")
					world.WantRcode(t, dnsmasq(z.WWWChallenge(), "TXT"), "NXDOMAIN")
				}
				world.WantA(t, dnsmasq(world.InternalCom.Name, "A"), world.InternalCom.Addr)
				world.WantA(t, dnsmasq(world.InternalWWW.Name, "A"), world.InternalWWW.Addr)
				world.WantA(t, dnsmasq(world.InternalOrg.Name, "A"), world.InternalOrg.Addr)
				r := dnsmasq(world.InternalCom.Name, "A")
				if r.Answer[0].TTL != world.HostTTL {
					t.Fatalf("dnsmasq TTL %d, want %d\n%s", r.Answer[0].TTL, world.HostTTL, r)
				}
			})
		}
	}
}

// Dynamic update from loopback works (for tests that change the token).
func TestWorldUpdateTXT(t *testing.T) {
	w := world.New(t, world.Options{Zones: []world.Zone{world.ExampleCom}})
	if w.Dnsmasq != nil {
		t.Fatal("a world without hidden zones or hosts has no dnsmasq")
	}
	if err := w.UpdateTXT("example.com", world.ExampleCom.Challenge(), 120, "new-token", "second token"); err != nil {
		t.Fatal(err)
	}
	r, err := world.Dig(world.Query{Server: w.Knot.Addr, Name: world.ExampleCom.Challenge(), Type: "TXT"})
	if err != nil {
		t.Fatal(err)
	}
	got := r.TXTs()
	slices.Sort(got)
	if !slices.Equal(got, []string{"new-token", "second token"}) || r.Answer[0].TTL != 120 {
		t.Fatalf("after update: %q\n%s", got, r)
	}
}

// Stop ends every process by PID, and the addresses are free again.
func TestWorldStopByPID(t *testing.T) {
	w, err := world.Start(world.Standard())
	if err != nil {
		t.Fatal(err)
	}
	servers := w.Servers()
	if len(servers) != 2 {
		_ = w.Stop()
		t.Fatalf("want knot and dnsmasq, got %v", servers)
	}
	// A TCP query makes dnsmasq fork a child; it must go too.
	if _, err := world.Dig(world.Query{Server: w.Dnsmasq.Addr, Name: world.InternalCom.Name, Type: "A", TCP: true}); err != nil {
		t.Error(err)
	}
	dir := w.Dir
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if done, _ := s.Exited(); !done {
			t.Errorf("%s still running", s)
		}
		if err := syscall.Kill(s.PID(), 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s: kill(pid, 0) = %v, want ESRCH", s, err)
		}
		u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(s.Addr))
		if err != nil {
			t.Errorf("%s: address not free after Stop: %v", s, err)
		} else {
			u.Close()
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) && os.Getenv("ACMEFORWARD_KEEP_WORLD") == "" {
		t.Errorf("world directory %s left behind (%v)", dir, err)
	}
}

// A process that dies at start gives an error with its exit status and log.
func TestWorldStartFailureShowsLog(t *testing.T) {
	w := world.New(t, world.Options{})
	bin := filepath.Join(t.TempDir(), "fake-coredns")
	script := "#!/bin/sh\necho \"fake: cannot start, args: $*\" >&2\nexit 3\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := w.StartCoreDNS(world.CoreDNS{Binary: bin, Corefile: ". {\n}\n", Addr: world.Addr(t)})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"coredns exited at start-up", "exit status 3", "fake: cannot start, args: -conf ", "Corefile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	if _, err := w.StartCoreDNS(world.CoreDNS{Binary: filepath.Join(t.TempDir(), "missing"), Addr: world.Addr(t)}); err == nil ||
		!strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing binary: %v", err)
	}

	// knot with a zone file it rejects (a CNAME beside other data at the apex
	// would need a hand-made file; a bad zone name is enough).
	_, err = world.Start(world.Options{Zones: []world.Zone{{Name: "bad..zone", Token: "x", WWWToken: "y", WWWAddr: "192.0.2.1"}}})
	if err == nil {
		t.Fatal("knot with a bad zone name started")
	}
	if !strings.Contains(err.Error(), "knot") || !strings.Contains(err.Error(), "log") {
		t.Errorf("knot failure lacks its log:\n%v", err)
	}
}

func TestNewAddrDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 300 {
		a := world.Addr(t)
		b := a.Addr().As4()
		if b[0] != 127 || b[1] < 64 || b[3] == 0 || b[3] == 255 {
			t.Fatalf("address %s outside the test plan", a)
		}
		if seen[a.Addr().String()] {
			t.Fatalf("IP %s handed out twice", a.Addr())
		}
		seen[a.Addr().String()] = true
	}
}
