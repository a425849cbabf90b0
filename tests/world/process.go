package world

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is one process of the world: knotd, dnsmasq, coredns, unbound or
// pebble.
type Server struct {
	// Name says what it is ("knot", "dnsmasq", "coredns", "coredns-control", ...).
	Name string
	// Addr is where it answers DNS, over UDP and TCP (pebble: HTTPS).
	Addr netip.AddrPort
	// LogPath is the file that holds its standard output and standard error.
	LogPath string
	// Args is its command line, for error messages.
	Args []string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stopMu  sync.Mutex
	stopped bool
}

// PID is the process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Host is the address's IP as text, for dig's @server.
func (s *Server) Host() string { return s.Addr.Addr().String() }

// Port is the address's port.
func (s *Server) Port() int { return int(s.Addr.Port()) }

// Exited reports whether the process has ended, and how.
func (s *Server) Exited() (bool, error) {
	select {
	case <-s.exited:
		return true, s.waitErr
	default:
		return false, nil
	}
}

// Log is what the process has written so far.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", s.LogPath, err)
	}
	return string(b)
}

// String gives name, address and PID.
func (s *Server) String() string {
	return fmt.Sprintf("%s at %s (pid %d)", s.Name, s.Addr, s.PID())
}

// spawn starts every child from one OS thread that never exits, so that
// Pdeathsig (which Linux ties to the parent thread) kills the children only
// when this process dies: a test binary killed by `go test -timeout` leaves no
// knotd/dnsmasq/coredns behind. Normal shutdown is Stop, by PID.
var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func startCmd(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawnCh {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnCh <- spawnReq{cmd: cmd, done: done}
	return <-done
}

// StartCmd starts cmd from the world's spawning thread (see above), so that
// Pdeathsig in cmd.SysProcAttr, if set, fires only when the test process
// dies. For clients (lego, cert-manager's check) that a test runs to the end.
func StartCmd(cmd *exec.Cmd) error { return startCmd(cmd) }

// startProcess starts argv with its output going to logPath, with env added
// to the environment. It does not wait for readiness.
func startProcess(name string, addr netip.AddrPort, logPath string, argv, env []string) (*Server, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy of the descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Stdin = nil
	cmd.Env = append(append(os.Environ(), "LC_ALL=C"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true, // its own group: a Ctrl-C in the demo's terminal reaches the demo, which stops it in order
		Pdeathsig: syscall.SIGKILL,
	}
	if err := startCmd(cmd); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, strings.Join(argv, " "), err)
	}
	s := &Server{Name: name, Addr: addr, LogPath: logPath, Args: argv, cmd: cmd, exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// Stop ends the process by its PID: SIGTERM, then SIGKILL after a grace
// period. Whatever it forked (dnsmasq's TCP children) is in its process group
// and gets SIGKILL too. Stop is idempotent.
func (s *Server) Stop() error {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	pid := s.PID()
	select {
	case <-s.exited:
	default:
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(pid, syscall.SIGKILL)
			select {
			case <-s.exited:
			case <-time.After(5 * time.Second):
				return fmt.Errorf("%s: pid %d did not exit after SIGKILL", s.Name, pid)
			}
		}
	}
	// Leftover children in its group (the group id is the leader's pid).
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: kill group %d: %w", s.Name, pid, err)
	}
	return nil
}

// waitReady polls the server over DNS until it answers, the process dies, or
// the deadline passes. check gets one probe result; nil means ready.
func (s *Server) waitReady(limit time.Duration, check func() error) error {
	deadline := time.Now().Add(limit)
	var last error
	for attempt := 0; ; attempt++ {
		if done, werr := s.Exited(); done {
			return fmt.Errorf("%s exited at start-up (%v)\ncommand: %s\n--- %s log (%s) ---\n%s",
				s.Name, werr, strings.Join(s.Args, " "), s.Name, s.LogPath, s.Log())
		}
		if last = check(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready on %s after %v and %d probes: %v\ncommand: %s\n--- %s log (%s) ---\n%s",
				s.Name, s.Addr, limit, attempt+1, last, strings.Join(s.Args, " "), s.Name, s.LogPath, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
