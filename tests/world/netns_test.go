package world_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// A Service spreads queries over its backends at random, over UDP and TCP,
// in the private network namespace of InNetns: two dnsmasq that answer the
// same name with different addresses, behind one address. Outside that
// namespace no rule can be made.
func TestWorldService(t *testing.T) {
	if !world.InNetns(t, 2*time.Minute, nil) {
		// The parent, in the machine's network namespace.
		if _, err := world.NewService(world.AddrPort(t, 53), world.Addr(t)); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Fatalf("NewService outside a private network namespace: %v", err)
		}
		return
	}
	const name = "svc.corp.internal"
	var backends []*world.Server
	for i := range 2 {
		w := world.New(t, world.Options{Hidden: []string{"corp.internal"}, Hosts: []world.HostRecord{{Name: name, Addr: fmt.Sprintf("10.0.0.%d", i+1)}}})
		backends = append(backends, w.Dnsmasq)
	}
	svc, err := world.NewService(world.AddrPort(t, 53), backends[0].Addr, backends[1].Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
	})
	for _, tcp := range []bool{false, true} {
		seen := map[string]int{}
		for range 40 {
			r, err := world.Dig(world.Query{Server: svc.Addr, Name: name, Type: "A", TCP: tcp})
			if err != nil {
				t.Fatal(err)
			}
			as := r.Records("A")
			if r.Rcode != "NOERROR" || len(as) != 1 {
				t.Fatalf("through the service:\n%s", r)
			}
			seen[as[0].Data]++
		}
		// Each backend misses all 40 with probability 2^-40.
		if seen["10.0.0.1"] == 0 || seen["10.0.0.2"] == 0 || len(seen) != 2 {
			t.Fatalf("tcp=%v: answers per backend %v, want both backends", tcp, seen)
		}
		t.Logf("tcp=%v: answers per backend %v", tcp, seen)
	}
}

// dnsmasq's other internal records (AAAA, TXT, MX), and with
// InternalRecursion the public names it resolves through unbound while its
// hidden zones stay local.
func TestWorldInternalRecords(t *testing.T) {
	w := world.New(t, world.Options{
		Zones:             []world.Zone{world.ExampleCom, world.ExampleOrg},
		Hidden:            []string{"example.com", "corp.internal"},
		Hosts:             []world.HostRecord{{Name: "db.corp.internal", Addr: "10.20.0.5", Addr6: "fd00::5"}},
		TXT:               []world.InternalTXT{{Name: "db.corp.internal", Text: "internal db"}},
		MX:                []world.InternalMX{{Name: "db.corp.internal", Exchange: "mail.corp.internal", Pref: 10}},
		InternalRecursion: true,
	})
	if w.InternalResolver == nil {
		t.Fatal("no internal resolver")
	}
	dnsmasq := func(name, typ string) *world.Response {
		r, err := world.Dig(world.Query{Server: w.Dnsmasq.Addr, Name: name, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	world.WantA(t, dnsmasq("db.corp.internal", "A"), "10.20.0.5")
	if r := dnsmasq("db.corp.internal", "AAAA"); len(r.Records("AAAA")) != 1 || r.Records("AAAA")[0].Data != "fd00::5" {
		t.Fatalf("AAAA\n%s", r)
	}
	world.WantTXT(t, dnsmasq("db.corp.internal", "TXT"), "internal db")
	if r := dnsmasq("db.corp.internal", "MX"); len(r.Records("MX")) != 1 || r.Records("MX")[0].Data != "10 mail.corp.internal." {
		t.Fatalf("MX\n%s", r)
	}
	// example.org is public: the inside view is knot's. example.com is hidden.
	world.WantTXT(t, dnsmasq(world.ExampleOrg.Challenge(), "TXT"), world.ExampleOrg.Token)
	world.WantRcode(t, dnsmasq(world.ExampleCom.Challenge(), "TXT"), "NXDOMAIN")
	world.WantRcode(t, dnsmasq("nothere.corp.internal", "A"), "NXDOMAIN")
}
