package world

// A private network namespace for tests that change packet routing
// (iptables): the test binary runs the test again under `unshare --net`,
// where only the loopback interface exists. Nothing can leave it, and every
// rule made there goes with it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Environment of a test process started by InNetns: the name of the test it
// runs, and the network namespace of the process that started it.
const (
	EnvNetnsTest   = "ACMEFORWARD_NETNS_TEST"
	EnvNetnsParent = "ACMEFORWARD_NETNS_PARENT"
)

func netnsOf(pid string) (string, error) {
	return os.Readlink("/proc/" + pid + "/ns/net")
}

// InNetns runs the calling top-level test again, alone, in a private network
// namespace whose only interface is loopback. It returns true in that child
// process, where the test goes on to build its world. In the parent it
// returns false once the child has ended, after logging the child's output
// and failing the test if the child failed or did not end within limit.
// env is added to the child's environment; testArgs are more flags for the
// child test binary (-test.parallel=N, ...). Needs root (CAP_SYS_ADMIN).
func InNetns(t *testing.T, limit time.Duration, env []string, testArgs ...string) bool {
	t.Helper()
	if strings.Contains(t.Name(), "/") {
		t.Fatalf("InNetns: %s is a subtest; only a top-level test can run again by name", t.Name())
	}
	if os.Getenv(EnvNetnsTest) == t.Name() {
		if err := enterChild(); err != nil {
			t.Fatalf("in the private network namespace: %v", err)
		}
		return true
	}
	self, err := netnsOf("self")
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"unshare", "--net", "--", os.Args[0],
		"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.v",
		"-test.timeout=" + limit.String()}, testArgs...)
	// The child's own -test.timeout ends it first; this bounds a child that
	// hangs past it.
	ctx, cancel := context.WithTimeout(context.Background(), limit+30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(append(os.Environ(), EnvNetnsTest+"="+t.Name(), EnvNetnsParent+"="+self), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := StartCmd(cmd); err != nil {
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	err = cmd.Wait()
	t.Logf("$ %s\n%s", strings.Join(argv, " "), out.String())
	switch {
	case ctx.Err() != nil:
		t.Fatalf("the test in the private network namespace did not end within %v: killed", limit+30*time.Second)
	case err != nil:
		t.Fatalf("the test in the private network namespace failed: %v", err)
	}
	return false
}

// enterChild checks that this process is in a network namespace of its own
// (not the one of its parent, nor the one of PID 1), brings loopback up, and
// checks that loopback is the only interface.
func enterChild() error {
	if err := PrivateNetns(); err != nil {
		return err
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set lo up: %v\n%s", err, out)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Name != "lo" {
			return fmt.Errorf("interface %s in what should be a loopback-only namespace", i.Name)
		}
	}
	return nil
}

// PrivateNetns says why this process is not in a private network namespace
// made by InNetns, or nil if it is.
func PrivateNetns() error {
	parent := os.Getenv(EnvNetnsParent)
	if os.Getenv(EnvNetnsTest) == "" || parent == "" {
		return errors.New("not a test started by InNetns")
	}
	self, err := netnsOf("self")
	if err != nil {
		return err
	}
	if self == parent {
		return fmt.Errorf("network namespace %s is the parent's", self)
	}
	// PID 1's namespace cannot always be read from a private namespace
	// (permission denied): then the parent's is the comparison.
	if pid1, err := netnsOf("1"); err == nil && pid1 == self {
		return fmt.Errorf("network namespace %s is the one of pid 1", self)
	}
	return nil
}

// Service is a virtual address that spreads new connections (each UDP query
// from a fresh socket is one) at random over backends, as kube-proxy's
// iptables mode does for a Service's cluster IP: nat OUTPUT rules with
// `-m statistic --mode random` and DNAT, for UDP and TCP. It exists only in a
// private network namespace (InNetns); nothing listens on its address.
type Service struct {
	Addr     netip.AddrPort
	Backends []netip.AddrPort

	chain string
	jumps [][]string
}

var serviceSeq atomic.Int64

// NewService makes Addr spread over backends (all in 127.0.0.0/8), each
// backend getting an equal share.
func NewService(addr netip.AddrPort, backends ...netip.AddrPort) (*Service, error) {
	if err := PrivateNetns(); err != nil {
		return nil, fmt.Errorf("refusing to change iptables: %w", err)
	}
	if err := MustLoopback(append([]netip.AddrPort{addr}, backends...)...); err != nil {
		return nil, err
	}
	if len(backends) == 0 {
		return nil, errors.New("a service needs a backend")
	}
	s := &Service{Addr: addr, Backends: backends, chain: fmt.Sprintf("AFW-SVC-%d", serviceSeq.Add(1))}
	if err := iptables("-N", s.chain); err != nil {
		return nil, err
	}
	for _, proto := range []string{"udp", "tcp"} {
		for i, b := range backends {
			rule := []string{"-A", s.chain, "-p", proto}
			// kube-proxy's chain: backend i of n takes 1/(n-i) of what the
			// earlier rules left, so each gets 1/n.
			if left := len(backends) - i; left > 1 {
				rule = append(rule, "-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(1/float64(left), 'f', 5, 64))
			}
			rule = append(rule, "-j", "DNAT", "--to-destination", b.String())
			if err := iptables(rule...); err != nil {
				_ = s.Close()
				return nil, err
			}
		}
		jump := []string{"OUTPUT", "-d", addr.Addr().String() + "/32", "-p", proto, "--dport", strconv.Itoa(int(addr.Port())), "-j", s.chain}
		if err := iptables(append([]string{"-A"}, jump...)...); err != nil {
			_ = s.Close()
			return nil, err
		}
		s.jumps = append(s.jumps, jump)
	}
	return s, nil
}

// Close removes the service's rules.
func (s *Service) Close() error {
	var errs []error
	for _, j := range s.jumps {
		errs = append(errs, iptables(append([]string{"-D"}, j...)...))
	}
	s.jumps = nil
	errs = append(errs, iptables("-F", s.chain), iptables("-X", s.chain))
	return errors.Join(errs...)
}

// iptables changes the nat table; -w waits for the lock that parallel calls
// share.
func iptables(args ...string) error {
	argv := append([]string{"-w", "-t", "nat"}, args...)
	out, err := exec.Command("iptables", argv...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}
