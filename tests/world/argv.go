package world

import (
	"fmt"
	"net/netip"
)

// StartDNSServerArgv starts argv, a DNS server that answers on addr but is
// not started as `coredns -conf FILE` (a CoreDNS inside a container runtime,
// or chrooted into an image's root filesystem), and waits until it answers
// over UDP and TCP. The world tracks it and stops it by PID; if it exits or
// never answers, it is stopped and the error holds its log.
func (w *World) StartDNSServerArgv(name string, addr netip.AddrPort, argv []string) (*Server, error) {
	if err := MustLoopback(addr); err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s: empty command line", name)
	}
	return w.startDNSServer(name, addr, w.logPath(name), argv)
}

// startDNSServer starts argv with its output in logPath, tracks it, and
// waits until it answers on addr; if it does not, it is stopped.
func (w *World) startDNSServer(name string, addr netip.AddrPort, logPath string, argv []string) (*Server, error) {
	s, err := startProcess(name, addr, logPath, argv, nil)
	if err != nil {
		return nil, err
	}
	w.track(s)
	if err := s.waitReady(ReadyTimeout, readyCheck(addr, "ready.invalid", TypeA, -1)); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}
