package main

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// The demo starts with examples/Corefile, every line it prints checks out,
// and it stops everything. It uses the demo's fixed addresses, so it fails
// (clearly) while a demo is running.
func TestDemoCheck(t *testing.T) {
	bin := os.Getenv("ACMEFORWARD_COREDNS")
	if bin == "" {
		t.Fatal("ACMEFORWARD_COREDNS is not set: set it to the CoreDNS binary with acmeforward (an absolute path)")
	}
	var out strings.Builder
	if err := run(context.Background(), &out, bin, "../../../examples/Corefile", true); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"dig @127.0.0.1 -p 1053 TXT _acme-challenge.example.com\n",
		"dig @127.0.0.1 -p 1053 +tcp TXT _acme-challenge.example.com\n",
		"dig @127.0.0.1 -p 1053 TXT _acme-challenge.www.example.com\n",
		"dig @127.0.0.1 -p 1053 A internal.example.com\n",
		"dig @127.0.0.1 -p 1053 A www.example.com\n",
		"dig @127.0.53.2 -p 10053 TXT _acme-challenge.example.com\n",
		"dig @127.0.53.1 -p 10053 TXT _acme-challenge.example.com\n",
		`"demo-token-123"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q\n%s", want, out.String())
		}
	}
	// Everything is stopped: the fixed addresses are free again.
	for _, a := range []netip.AddrPort{world.DemoCoreDNS, world.DemoKnot, world.DemoDnsmasq} {
		if err := world.PortFree(a); err != nil {
			t.Errorf("%s still taken after the demo: %v", a, err)
		}
	}
}
