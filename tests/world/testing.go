package world

import (
	"net/netip"
	"os"
	"slices"
	"testing"
)

// EnvCoreDNS names the CoreDNS binary with acmeforward under test.
const EnvCoreDNS = "ACMEFORWARD_COREDNS"

// CoreDNSBinary is the binary under test, from EnvCoreDNS. It fails (never
// skips) the test when the variable is unset or does not name an
// executable: a run without the binary has tested nothing.
func CoreDNSBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvCoreDNS)
	if bin == "" {
		t.Fatalf("%s is not set: set it to the CoreDNS binary with acmeforward, an absolute path "+
			"(build it with `make coredns`, then e.g. "+
			"`cd tests && %s=$PWD/../build/bin/coredns go test ./...`)", EnvCoreDNS, EnvCoreDNS)
	}
	if err := CheckBinary(bin); err != nil {
		t.Fatalf("%s=%s: %v", EnvCoreDNS, bin, err)
	}
	return bin
}

// New starts a world for a test. Cleanup stops every process by PID (also
// when the test fails or calls Fatal) and, if the test failed, logs every
// server's log first.
func New(t testing.TB, opts Options) *World {
	t.Helper()
	w, err := Start(opts)
	if err != nil {
		t.Fatalf("starting the world: %v", err)
	}
	t.Cleanup(func() {
		if err := w.StopServers(); err != nil {
			t.Errorf("stopping the world: %v", err)
		}
		if t.Failed() {
			t.Logf("world directory %s\n%s", w.Dir, w.Logs())
		}
		if err := w.Stop(); err != nil {
			t.Errorf("removing the world: %v", err)
		}
	})
	return w
}

// Addr is NewAddr for tests.
func Addr(t testing.TB) netip.AddrPort {
	t.Helper()
	a, err := NewAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// CoreDNST starts a CoreDNS in the world or fails the test with its log. The
// world's cleanup stops it.
func (w *World) CoreDNST(t testing.TB, c CoreDNS) *Server {
	t.Helper()
	s, err := w.StartCoreDNS(c)
	if err != nil {
		t.Fatalf("starting %s: %v", c.Name, err)
	}
	return s
}

// AddrPort is NewAddrPort for tests.
func AddrPort(t testing.TB, port uint16) netip.AddrPort {
	t.Helper()
	a, err := NewAddrPort(port)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// UnboundT starts unbound (StartUnbound) or fails the test.
func (w *World) UnboundT(t testing.TB, noCache bool) *Server {
	t.Helper()
	s, err := w.StartUnbound(noCache)
	if err != nil {
		t.Fatalf("starting unbound: %v", err)
	}
	return s
}

// PebbleT starts pebble (StartPebble) or fails the test.
func (w *World) PebbleT(t testing.TB, dnsServer netip.AddrPort) *Pebble {
	t.Helper()
	p, err := w.StartPebble(dnsServer)
	if err != nil {
		t.Fatalf("starting pebble: %v", err)
	}
	return p
}

// PebbleBinaryT starts the pebble at bin (StartPebbleBinary) or fails the
// test.
func (w *World) PebbleBinaryT(t testing.TB, bin string, dnsServer netip.AddrPort) *Pebble {
	t.Helper()
	p, err := w.StartPebbleBinary(bin, dnsServer)
	if err != nil {
		t.Fatalf("starting pebble %s: %v", bin, err)
	}
	return p
}

// WantRcode fails the test unless the response has this rcode.
func WantRcode(t testing.TB, r *Response, rcode string) {
	t.Helper()
	if r.Rcode != rcode {
		t.Fatalf("rcode %s, want %s\n%s", r.Rcode, rcode, r)
	}
}

// WantTXT fails the test unless the response is NOERROR with exactly these
// TXT strings.
func WantTXT(t testing.TB, r *Response, txt ...string) {
	t.Helper()
	WantRcode(t, r, "NOERROR")
	if got := r.TXTs(); !slices.Equal(got, txt) {
		t.Fatalf("TXT %q, want %q\n%s", got, txt, r)
	}
}

// WantA fails the test unless the response is NOERROR with exactly one A
// record, addr.
func WantA(t testing.TB, r *Response, addr string) {
	t.Helper()
	WantRcode(t, r, "NOERROR")
	as := r.Records("A")
	if len(as) != 1 || as[0].Data != addr {
		t.Fatalf("A %v, want %s\n%s", as, addr, r)
	}
}
