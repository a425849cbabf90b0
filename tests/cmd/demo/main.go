// Command demo starts the demo world on fixed loopback addresses: knot (the
// public authoritative server with the ACME token), dnsmasq (the internal
// server that hides it) and CoreDNS with acmeforward, configured by
// examples/Corefile. It checks the dig lines it prints, then runs until
// Ctrl-C or SIGTERM and stops everything by PID.
//
//	cd tests && go run ./cmd/demo -coredns ../build/bin/coredns -corefile ../examples/Corefile
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

func main() {
	def := os.Getenv("ACMEFORWARD_COREDNS")
	if def == "" {
		def = "../build/bin/coredns"
	}
	coredns := flag.String("coredns", def, "CoreDNS binary with acmeforward (default $ACMEFORWARD_COREDNS or ../build/bin/coredns)")
	corefile := flag.String("corefile", "../examples/Corefile", "Corefile for the demo's CoreDNS")
	check := flag.Bool("check", false, "start, check the dig lines, stop (do not wait for Ctrl-C)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *coredns, *corefile, *check); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// line is one dig line the demo prints, and how it checks it.
type line struct {
	what   string
	q      world.Query
	rcode  string
	txt    string // the TXT answer, if any
	a      string // the A answer, if any
	expect string // what the reader should see
}

func (l line) command() string {
	tcp := ""
	if l.q.TCP {
		tcp = " +tcp"
	}
	port := ""
	if p := l.q.Server.Port(); p != 53 {
		port = fmt.Sprintf(" -p %d", p)
	}
	return fmt.Sprintf("dig @%s%s%s %s %s", l.q.Server.Addr(), port, tcp, l.q.Type, l.q.Name)
}

func (l line) check() error {
	r, err := world.Dig(l.q)
	if err != nil {
		return err
	}
	switch {
	case r.Rcode != l.rcode:
	case l.txt != "" && !slices.Equal(r.TXTs(), []string{l.txt}):
	case l.a != "" && (len(r.Records("A")) != 1 || r.Records("A")[0].Data != l.a):
	default:
		return nil
	}
	return fmt.Errorf("%s: want %s\n%s", l.command(), l.expect, r)
}

// Lines are the demo's dig lines.
func Lines() []line {
	z := world.DemoZone
	c, k, d := world.DemoCoreDNS, world.DemoKnot, world.DemoDnsmasq
	return []line{
		{what: "The ACME token, through CoreDNS (acmeforward asks knot):",
			q: world.Query{Server: c, Name: z.Challenge(), Type: "TXT"}, rcode: "NOERROR", txt: z.Token,
			expect: fmt.Sprintf("status: NOERROR, TXT %q", z.Token)},
		{what: "The same over TCP:",
			q: world.Query{Server: c, Name: z.Challenge(), Type: "TXT", TCP: true}, rcode: "NOERROR", txt: z.Token,
			expect: fmt.Sprintf("status: NOERROR, TXT %q", z.Token)},
		{what: "A challenge below the apex:",
			q: world.Query{Server: c, Name: z.WWWChallenge(), Type: "TXT"}, rcode: "NOERROR", txt: z.WWWToken,
			expect: fmt.Sprintf("status: NOERROR, TXT %q", z.WWWToken)},
		{what: "An internal name keeps dnsmasq's answer:",
			q: world.Query{Server: c, Name: world.InternalCom.Name, Type: "A"}, rcode: "NOERROR", a: world.InternalCom.Addr,
			expect: "status: NOERROR, A " + world.InternalCom.Addr},
		{what: fmt.Sprintf("www keeps its inside address (knot's public one is %s):", z.WWWAddr),
			q: world.Query{Server: c, Name: world.InternalWWW.Name, Type: "A"}, rcode: "NOERROR", a: world.InternalWWW.Addr,
			expect: "status: NOERROR, A " + world.InternalWWW.Addr},
		{what: "The problem: dnsmasq alone hides the token (what the cluster saw before):",
			q: world.Query{Server: d, Name: z.Challenge(), Type: "TXT"}, rcode: "NXDOMAIN",
			expect: "status: NXDOMAIN"},
		{what: "The public authoritative server has it:",
			q: world.Query{Server: k, Name: z.Challenge(), Type: "TXT"}, rcode: "NOERROR", txt: z.Token,
			expect: fmt.Sprintf("status: NOERROR, TXT %q", z.Token)},
	}
}

func run(ctx context.Context, out io.Writer, coredns, corefile string, checkOnly bool) (err error) {
	if coredns, err = filepath.Abs(coredns); err != nil {
		return err
	}
	if err := world.CheckBinary(coredns); err != nil {
		return fmt.Errorf("%w (build it: make coredns)", err)
	}
	if corefile, err = filepath.Abs(corefile); err != nil {
		return err
	}
	if _, err := os.Stat(corefile); err != nil {
		return err
	}
	for _, a := range []netip.AddrPort{world.DemoCoreDNS, world.DemoKnot, world.DemoDnsmasq} {
		if err := world.PortFree(a); err != nil {
			return fmt.Errorf("demo address %s is taken (is another demo running?): %w", a, err)
		}
	}

	fmt.Fprintf(out, "Starting knot (public, %s) and dnsmasq (internal, %s)...\n", world.DemoKnot, world.DemoDnsmasq)
	w, err := world.Start(world.DemoOptions())
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "Stopping CoreDNS, dnsmasq and knot...")
		if serr := w.StopServers(); serr != nil {
			err = errors.Join(err, serr)
		}
		if err != nil {
			fmt.Fprintf(out, "Logs (kept in %s):\n%s", w.Dir, w.Logs())
			return
		}
		err = w.Stop()
	}()
	fmt.Fprintf(out, "Starting CoreDNS (%s) with %s...\n", world.DemoCoreDNS, corefile)
	if _, err := w.StartCoreDNS(world.CoreDNS{Binary: coredns, ConfPath: corefile, Addr: world.DemoCoreDNS}); err != nil {
		return err
	}

	lines := Lines()
	for _, l := range lines {
		if err := l.check(); err != nil {
			return fmt.Errorf("check failed: %w", err)
		}
	}
	fmt.Fprintf(out, "\nReady; every line below was checked. Try:\n\n")
	for _, l := range lines {
		fmt.Fprintf(out, "  # %s\n  %s\n  #   -> %s\n\n", l.what, l.command(), l.expect)
	}
	if checkOnly {
		return nil
	}
	fmt.Fprintf(out, "Logs: %s\nPress Ctrl-C to stop.\n", w.Dir)
	// `go run` exits on SIGTERM without passing it on: when the parent goes
	// (this process is handed to another), stop as if signalled.
	parent := os.Getppid()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if os.Getppid() != parent {
				fmt.Fprintln(out, "The parent process is gone.")
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
