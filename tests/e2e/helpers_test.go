package e2e_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// EnvCoreDNS names the CoreDNS binary with acmeforward under test.
const EnvCoreDNS = "ACMEFORWARD_COREDNS"

// corednsBin is the binary under test. It fails (never skips) the test when
// the variable is unset or does not name an executable: an e2e run without
// the binary has tested nothing.
func corednsBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(EnvCoreDNS)
	if bin == "" {
		t.Fatalf("%s is not set: set it to the CoreDNS binary with acmeforward "+
			"(build it with `cd go-shim && go build -o ../build/bin/coredns ./cmd/coredns`, then "+
			"`cd tests && %s=$PWD/../build/bin/coredns go test ./...`; an absolute path)", EnvCoreDNS, EnvCoreDNS)
	}
	if err := world.CheckBinary(bin); err != nil {
		t.Fatalf("%s=%s: %v", EnvCoreDNS, bin, err)
	}
	return bin
}

// acme is one acmeforward block.
type acme struct {
	zones   []string
	to      []netip.AddrPort
	timeout string // "" leaves the default
	maxTTL  int    // < 0 leaves the default
}

func (a acme) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "    acmeforward")
	for _, z := range a.zones {
		fmt.Fprintf(&b, " %s", z)
	}
	fmt.Fprintf(&b, " {\n        to")
	for _, u := range a.to {
		fmt.Fprintf(&b, " %s", u)
	}
	fmt.Fprintf(&b, "\n")
	if a.timeout != "" {
		fmt.Fprintf(&b, "        timeout %s\n", a.timeout)
	}
	if a.maxTTL >= 0 {
		fmt.Fprintf(&b, "        max_ttl %d\n", a.maxTTL)
	}
	fmt.Fprintf(&b, "    }\n")
	return b.String()
}

// corefile is the cluster's server block: everything goes to dnsmasq (the
// internal view), through a cache; block (the acmeforward block, or "") sits
// in it. The plugin order is CoreDNS's, not the order in the file.
func corefile(listen, dnsmasq netip.AddrPort, block string) string {
	return fmt.Sprintf(".:%d {\n    bind %s\n    errors\n    log\n%s    cache 30\n    forward . %s\n}\n",
		listen.Port(), listen.Addr(), block, dnsmasq)
}

// startCoreDNS starts a CoreDNS in w with the standard server block and the
// given acmeforward block ("" for none).
func startCoreDNS(t *testing.T, w *world.World, name string, block string) *world.Server {
	t.Helper()
	addr := world.Addr(t)
	return w.CoreDNST(t, world.CoreDNS{Name: name, Binary: corednsBin(t), Corefile: corefile(addr, w.Dnsmasq.Addr, block), Addr: addr})
}

type client struct {
	name string
	tcp  bool
	run  func(world.Query) (*world.Response, error)
}

var (
	digUDP  = client{"dig/udp", false, world.Dig}
	digTCP  = client{"dig/tcp", true, world.Dig}
	kdigUDP = client{"kdig/udp", false, world.KDig}
	kdigTCP = client{"kdig/tcp", true, world.KDig}
	both    = []client{digUDP, digTCP}
	all     = []client{digUDP, digTCP, kdigUDP, kdigTCP}
)

// ask runs the client against s; a client that gets no reply fails the test.
func ask(t *testing.T, c client, s *world.Server, name, typ string) *world.Response {
	t.Helper()
	r, err := c.run(world.Query{Server: s.Addr, Name: name, Type: typ, TCP: c.tcp})
	if err != nil {
		t.Fatalf("%s: no usable reply from %s: %v", c.name, s, err)
	}
	return r
}

// wantServfail: SERVFAIL, no records, and not a byte of the garbage.
func wantServfail(t *testing.T, r *world.Response) {
	t.Helper()
	world.WantRcode(t, r, "SERVFAIL")
	if len(r.Answer)+len(r.Authority)+len(r.Additional) != 0 {
		t.Fatalf("SERVFAIL with records\n%s", r)
	}
	if strings.Contains(r.Output, garbageToken) || strings.Contains(r.Output, goodToken) {
		t.Fatalf("upstream data reached the client\n%s", r)
	}
}
