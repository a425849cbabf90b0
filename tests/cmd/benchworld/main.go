// Command benchworld starts knot and dnsmasq for benches/compare/run.sh and
// keeps them up until SIGTERM, Ctrl-C or its parent's exit; it stops them by
// PID. Unlike the demo it takes its addresses as flags (the demo's fixed ones
// may be in use by a running demo or test) and knot serves all five zones
// the benchmark lists, so acmeforward's prefetch finds every one of them.
//
//	cd tests && go run ./cmd/benchworld -knot 127.0.54.1:10053 -dnsmasq 127.0.54.2:10053
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// Distinct is how many more challenge names example.com has,
// _acme-challenge.hN.example.com TXT "bench-token-N" for N in [0, Distinct):
// enough different questions that few of them are in flight at once, where
// acmeforward would answer identical ones with one exchange.
const Distinct = 100

// Zones are the benchmark's public zones: example.com as in the demo (same
// tokens) plus the Distinct names, then four more with their own tokens.
func Zones() []world.Zone {
	com := world.DemoZone
	for i := range Distinct {
		com.Extra = append(com.Extra, fmt.Sprintf("_acme-challenge.h%d %d IN TXT \"bench-token-%d\"", i, world.TokenTTL, i))
	}
	zs := []world.Zone{com}
	for i, name := range []string{"example.net", "example.org", "example.io", "example.dev"} {
		tag := strings.ReplaceAll(name, ".", "-")
		zs = append(zs, world.Zone{Name: name, Token: "token-apex-" + tag, WWWToken: "token-www-" + tag,
			WWWAddr: fmt.Sprintf("192.0.2.%d", 90+i)})
	}
	return zs
}

func main() {
	knot := flag.String("knot", "127.0.54.1:10053", "knot's address (loopback)")
	dnsmasq := flag.String("dnsmasq", "127.0.54.2:10053", "dnsmasq's address (loopback)")
	dir := flag.String("dir", "", "directory for configs and logs (default: a temporary one, removed at the end)")
	flag.Parse()
	if err := run(*knot, *dnsmasq, *dir); err != nil {
		fmt.Fprintf(os.Stderr, "benchworld: %v\n", err)
		os.Exit(1)
	}
}

func run(knotAddr, dnsmasqAddr, dir string) (err error) {
	k, err := netip.ParseAddrPort(knotAddr)
	if err != nil {
		return err
	}
	d, err := netip.ParseAddrPort(dnsmasqAddr)
	if err != nil {
		return err
	}
	if err := world.MustLoopback(k, d); err != nil {
		return err
	}
	for _, a := range []netip.AddrPort{k, d} {
		if err := world.PortFree(a); err != nil {
			return fmt.Errorf("%s is taken: %w", a, err)
		}
	}
	zones := Zones()
	hidden := make([]string, len(zones))
	for i, z := range zones {
		hidden[i] = z.Name
	}
	w, err := world.Start(world.Options{
		Zones:       zones,
		Hidden:      hidden,
		Hosts:       []world.HostRecord{world.InternalCom, world.InternalWWW},
		KnotAddr:    k,
		DnsmasqAddr: d,
		Dir:         dir,
	})
	if err != nil {
		return err
	}
	defer func() {
		if serr := w.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	fmt.Printf("ready: knot %s (pid %d), dnsmasq %s (pid %d), dir %s\n",
		k, w.Knot.PID(), d, w.Dnsmasq.PID(), w.Dir)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Stop when the script that started us is gone, even if it could not
	// signal us (killed): nothing may be left listening.
	parent := os.Getppid()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if os.Getppid() != parent {
				return nil
			}
			for _, s := range w.Servers() {
				if done, werr := s.Exited(); done {
					return fmt.Errorf("%s exited (%v)", s, werr)
				}
			}
		}
	}
}
