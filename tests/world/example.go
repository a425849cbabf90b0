package world

import (
	"fmt"
	"net/netip"
	"time"
)

// EnvUDPForwarder names the Rust example crates/acmeforward/examples/udp_forwarder, built
// (`cargo build --release -p acmeforward --example udp_forwarder`), for the test that runs it.
const EnvUDPForwarder = "ACMEFORWARD_UDP_FORWARDER"

// StartUDPServer starts argv, a DNS server that answers over UDP only (the Rust example
// forwarder) on addr, and waits until it answers there. The world's cleanup stops it.
func (w *World) StartUDPServer(name string, addr netip.AddrPort, argv []string) (*Server, error) {
	if err := MustLoopback(addr); err != nil {
		return nil, err
	}
	s, err := startProcess(name, addr, w.logPath(name), argv, nil)
	if err != nil {
		return nil, err
	}
	w.track(s)
	ready := func() error {
		_, err := Probe(addr, "ready.invalid", TypeA, false, 300*time.Millisecond)
		return err
	}
	if err := s.waitReady(ReadyTimeout, ready); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}
