package world

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
)

// Address plan (all on loopback, nothing ever leaves the machine):
//
//   - 127.0.0.1:1053, 127.0.53.1 and 127.0.53.2: the demo (fixed, see demo.go).
//   - 127.A.B.C with A in [64, 254]: test worlds. Each test process picks a
//     random 127.A.B prefix and hands out C = 1, 2, 3, ... to every server it
//     starts, so every server of every world has an IP of its own, and two
//     test packages running in parallel (two processes) do not meet: they
//     would need the same random prefix and the same random port, and a
//     bind test catches even that (knotd and coredns use SO_REUSEPORT, so a
//     clash would otherwise be silent; the test bind does not set it).
var (
	allocMu   sync.Mutex
	allocPre  [2]byte
	allocNext int
)

// NewAddr gives a fresh loopback IP with a port that is free on it for both
// UDP and TCP right now.
func NewAddr() (netip.AddrPort, error) {
	return newAddr(0)
}

// NewAddrPort gives a fresh loopback IP with the given port (53 for servers
// that clients find through a resolv.conf or an NS record, where the port is
// always 53), free on it for both UDP and TCP right now. Binding a port below
// 1024 needs root.
func NewAddrPort(port uint16) (netip.AddrPort, error) {
	if port == 0 {
		return netip.AddrPort{}, fmt.Errorf("NewAddrPort: port 0")
	}
	ap, err := newAddr(port)
	if err != nil && port < 1024 && os.Geteuid() != 0 {
		err = fmt.Errorf("%w (port %d needs root)", err, port)
	}
	return ap, err
}

// newAddr: port 0 means a random high port.
func newAddr(port uint16) (netip.AddrPort, error) {
	allocMu.Lock()
	defer allocMu.Unlock()
	var lastErr error
	for tries := 0; tries < 100; tries++ {
		if allocNext == 0 || allocNext > 250 {
			allocPre = [2]byte{byte(64 + rand.IntN(191)), byte(1 + rand.IntN(254))}
			allocNext = 1
		}
		ip := netip.AddrFrom4([4]byte{127, allocPre[0], allocPre[1], byte(allocNext)})
		allocNext++
		p := port
		if p == 0 {
			p = uint16(20000 + rand.IntN(12000))
		}
		ap := netip.AddrPortFrom(ip, p)
		if err := PortFree(ap); err != nil {
			lastErr = err
			continue
		}
		return ap, nil
	}
	return netip.AddrPort{}, fmt.Errorf("no free loopback address found: %v", lastErr)
}

// PortFree binds UDP and TCP on ap and lets go again.
func PortFree(ap netip.AddrPort) error {
	u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return err
	}
	defer u.Close()
	t, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
	if err != nil {
		return err
	}
	return t.Close()
}

// MustLoopback checks that every address is in 127.0.0.0/8.
func MustLoopback(addrs ...netip.AddrPort) error {
	for _, a := range addrs {
		if !a.IsValid() || !a.Addr().Is4() || a.Addr().As4()[0] != 127 {
			return fmt.Errorf("address %v is not in 127.0.0.0/8", a)
		}
	}
	return nil
}
