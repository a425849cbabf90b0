// Package world starts and stops a small DNS world of real processes on
// loopback addresses: knotd (the public authoritative server), dnsmasq (the
// internal server that hides the public zones) and CoreDNS builds with
// acmeforward. Every process is started by the world, watched by PID and
// stopped by PID. Nothing in it ever sends a packet outside 127.0.0.0/8.
package world

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ReadyTimeout bounds the wait for a server to answer after it starts.
const ReadyTimeout = 15 * time.Second

// World is a running set of servers.
type World struct {
	Dir     string
	Opts    Options
	Knot    *Server
	Dnsmasq *Server
	// InternalResolver is the unbound that dnsmasq sends public names to
	// (Options.InternalRecursion), else nil.
	InternalResolver *Server

	mu        sync.Mutex
	servers   []*Server
	removeDir bool
	names     map[string]int
}

// Start starts knot and dnsmasq and waits until both answer over UDP and TCP.
// On error nothing is left running.
func Start(opts Options) (w *World, err error) {
	w = &World{Opts: opts, names: map[string]int{}}
	if opts.Dir == "" {
		// Short path: knotd's control socket must fit in sun_path.
		d, err := os.MkdirTemp("", "afw-")
		if err != nil {
			return nil, err
		}
		w.Dir, w.removeDir = d, true
	} else {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, err
		}
		w.Dir = opts.Dir
	}
	defer func() {
		if err != nil {
			_ = w.Stop()
		}
	}()
	if len(opts.Zones) > 0 {
		if w.Knot, err = w.startKnot(); err != nil {
			return w, err
		}
	}
	if opts.InternalRecursion {
		if w.InternalResolver, err = w.StartUnbound(true); err != nil {
			return w, err
		}
	}
	if len(opts.Hidden) > 0 || len(opts.Hosts) > 0 {
		if w.Dnsmasq, err = w.startDnsmasq(); err != nil {
			return w, err
		}
	}
	return w, nil
}

func (w *World) addr(given netip.AddrPort) (netip.AddrPort, error) {
	if !given.IsValid() {
		return NewAddr()
	}
	return given, MustLoopback(given)
}

func (w *World) logPath(name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.names[name]++
	if n := w.names[name]; n > 1 {
		return filepath.Join(w.Dir, fmt.Sprintf("%s-%d.log", name, n))
	}
	return filepath.Join(w.Dir, name+".log")
}

func (w *World) track(s *Server) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.servers = append(w.servers, s)
}

func (w *World) startKnot() (*Server, error) {
	addr, err := w.addr(w.Opts.KnotAddr)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(w.Dir, "knot-db"), 0o755); err != nil {
		return nil, err
	}
	for _, z := range w.Opts.Zones {
		if err := os.WriteFile(filepath.Join(w.Dir, z.Name+".zone"), []byte(zoneFile(z, addr.Addr())), 0o644); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(w.Dir, "knot.conf")
	if err := os.WriteFile(conf, []byte(knotConf(w.Dir, addr, w.Opts.Zones)), 0o644); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath("knotd")
	if err != nil {
		return nil, fmt.Errorf("knotd not found (Debian package knot): %w", err)
	}
	s, err := startProcess("knot", addr, w.logPath("knot"), []string{bin, "-c", conf}, nil)
	if err != nil {
		return nil, err
	}
	w.track(s)
	// Ready when every zone is loaded: its SOA comes back NOERROR.
	return s, s.waitReady(ReadyTimeout, func() error {
		for _, z := range w.Opts.Zones {
			if err := readyCheck(addr, z.Name, TypeSOA, 0)(); err != nil {
				return err
			}
		}
		return nil
	})
}

func (w *World) startDnsmasq() (*Server, error) {
	addr, err := w.addr(w.Opts.DnsmasqAddr)
	if err != nil {
		return nil, err
	}
	var upstream netip.AddrPort
	if w.InternalResolver != nil {
		upstream = w.InternalResolver.Addr
	}
	argv := dnsmasqArgs(addr, w.Opts, upstream)
	if argv[0], err = exec.LookPath("dnsmasq"); err != nil {
		return nil, fmt.Errorf("dnsmasq not found (Debian package dnsmasq-base): %w", err)
	}
	s, err := startProcess("dnsmasq", addr, w.logPath("dnsmasq"), argv, nil)
	if err != nil {
		return nil, err
	}
	w.track(s)
	check := readyCheck(addr, "ready.invalid", TypeA, -1)
	if len(w.Opts.Hosts) > 0 {
		check = readyCheck(addr, w.Opts.Hosts[0].Name, TypeA, 0)
	}
	return s, s.waitReady(ReadyTimeout, check)
}

// CoreDNS says how to start one CoreDNS.
type CoreDNS struct {
	// Name labels the server and its log ("coredns" if empty).
	Name string
	// Binary is the coredns executable.
	Binary string
	// Corefile is the configuration text; it is written to the world's
	// directory. Ignored when ConfPath is set.
	Corefile string
	// ConfPath is an existing Corefile to pass as -conf.
	ConfPath string
	// Addr is where the Corefile makes it listen (bind + port); the world
	// waits until it answers there.
	Addr netip.AddrPort
}

// StartCoreDNS starts `coredns -conf FILE` and waits until it answers on
// c.Addr over UDP and TCP. If it exits or never answers, the error holds its
// log, and it is stopped.
func (w *World) StartCoreDNS(c CoreDNS) (*Server, error) {
	if c.Name == "" {
		c.Name = "coredns"
	}
	if err := MustLoopback(c.Addr); err != nil {
		return nil, err
	}
	if err := CheckBinary(c.Binary); err != nil {
		return nil, err
	}
	conf := c.ConfPath
	logPath := w.logPath(c.Name)
	if conf == "" {
		conf = strings.TrimSuffix(logPath, ".log") + ".Corefile"
		if err := os.WriteFile(conf, []byte(c.Corefile), 0o644); err != nil {
			return nil, err
		}
	}
	return w.startDNSServer(c.Name, c.Addr, logPath, []string{c.Binary, "-conf", conf})
}

// CheckBinary says clearly what is wrong with a binary path.
func CheckBinary(path string) error {
	if path == "" {
		return errors.New("no CoreDNS binary given")
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("CoreDNS binary %q: %w", path, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("CoreDNS binary %q is not an executable file", path)
	}
	return nil
}

// Servers lists the started servers, in start order.
func (w *World) Servers() []*Server {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*Server(nil), w.servers...)
}

// StopServers stops every server by PID, newest first.
func (w *World) StopServers() error {
	var errs []error
	ss := w.Servers()
	for i := len(ss) - 1; i >= 0; i-- {
		if err := ss[i].Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stop stops every server by PID, newest first, and then removes the
// temporary directory if the world made it (unless ACMEFORWARD_KEEP_WORLD is
// set, or a server could not be stopped).
func (w *World) Stop() error {
	if err := w.StopServers(); err != nil {
		return err
	}
	if w.removeDir && os.Getenv("ACMEFORWARD_KEEP_WORLD") == "" {
		return os.RemoveAll(w.Dir)
	}
	return nil
}

// Logs gives every server's log, each under a header.
func (w *World) Logs() string {
	var b strings.Builder
	for _, s := range w.Servers() {
		exited, werr := s.Exited()
		state := "running"
		if exited {
			state = fmt.Sprintf("exited: %v", werr)
		}
		fmt.Fprintf(&b, "----- %s on %s, pid %d (%s), %s -----\n%s\n", s.Name, s.Addr, s.PID(), state,
			strings.Join(s.Args, " "), strings.TrimRight(s.Log(), "\n"))
	}
	return b.String()
}

// UpdateTXT replaces the TXT RRset of name at knot with values, by dynamic
// update (knsupdate over loopback).
func (w *World) UpdateTXT(zone, name string, ttl int, values ...string) error {
	changes := []string{fmt.Sprintf("delete %s. TXT", name)}
	for _, v := range values {
		changes = append(changes, fmt.Sprintf("add %s. %d TXT %q", name, ttl, v))
	}
	return w.Update(zone, changes...)
}

// Update sends one dynamic update of zone to knot (knsupdate over loopback):
// each change is a knsupdate "update" line without the word, e.g.
// "add www.example.com. 60 A 192.0.2.80" or "delete www.example.com. A".
func (w *World) Update(zone string, changes ...string) error {
	if w.Knot == nil {
		return errors.New("no knot in this world")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server %s %d\nzone %s.\n", w.Knot.Host(), w.Knot.Port(), zone)
	for _, c := range changes {
		fmt.Fprintf(&b, "update %s\n", c)
	}
	b.WriteString("send\nquit\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "knsupdate", "-t", "5", "-r", "0")
	cmd.Stdin = strings.NewReader(b.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("knsupdate: %v\ninput:\n%s\noutput:\n%s", err, b.String(), out)
	}
	return nil
}
