// Conformance tests: real ACME clients (cert-manager's own DNS-01 self check,
// lego with pebble, certmagic's DNS-01 solver) resolving names as a pod
// does, through a CoreDNS with acmeforward in front of a split-horizon
// internal server (dnsmasq), with the public zones at knot. Every client
// runs in a private mount namespace whose /etc/resolv.conf names that
// CoreDNS; nothing sends a packet outside 127.0.0.0/8. Each positive test
// writes the lookups the client made through CoreDNS (from CoreDNS's query
// log) to testdata/querylog/. The same clients against the same CoreDNS
// without acmeforward (negative controls) fail.
package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// checkerBin is cmd/certmanager-check, built by TestMain (checkerErr if not).
var (
	checkerBin string
	checkerErr error
)

// certmagicBin is cmd/certmagic-check, built by TestMain (certmagicErr if
// not); not in the private network namespace's test process.
var (
	certmagicBin string
	certmagicErr = errors.New("cmd/certmagic-check is not built in this process")
)

// envChecker hands the checker built by a test process to the test process
// it starts in a private network namespace (world.InNetns), which then
// builds nothing.
const envChecker = "ACMEFORWARD_CERTMANAGER_CHECK"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "afw-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	if given := os.Getenv(envChecker); given != "" {
		checkerBin = given
	} else {
		checkerBin = filepath.Join(dir, "certmanager-check")
		// CGO_ENABLED=0 as cert-manager's release images: Go's own resolver.
		cmd := exec.Command("go", "build", "-o", checkerBin, "./cmd/certmanager-check")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			checkerErr = fmt.Errorf("go build ./cmd/certmanager-check: %v\n%s", err, out)
		}
		certmagicBin, certmagicErr = buildClient(dir, "certmagic-check")
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildClient builds ./cmd/<name> into dir with CGO_ENABLED=0, as the
// clients' release binaries are built: Go's own resolver reads the pod's
// /etc/resolv.conf.
func buildClient(dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin, nil
}

func checker(t *testing.T) string {
	t.Helper()
	if checkerErr != nil {
		t.Fatal(checkerErr)
	}
	return checkerBin
}

// Names of the conformance world.
const (
	zone       = "example.com"      // the zone acmeforward lists
	authZone   = "auth.example.net" // where the www challenge is CNAME'd to (acme-dns style)
	cnameLabel = "d0c5a3e1"         // the <id> of <id>.auth.example.net
	apexToken  = "cm-token-apex-example-com"
	delegToken = "cm-token-delegated-www"
	// lateDomain's challenge does not exist until a test adds it.
	lateDomain = "late." + zone
	wwwDomain  = "www." + zone
)

// cnameTarget is the CNAME target of _acme-challenge.www.example.com.
var cnameTarget = cnameLabel + "." + authZone

// conformanceOptions: knot on port 53 (clients that ask the authoritative
// servers always use 53) serving example.com and auth.example.net, each with
// its NS host at knot's own address; dnsmasq hides both zones.
func conformanceOptions(t *testing.T) world.Options {
	return world.Options{
		Zones: []world.Zone{
			{Name: zone, Token: apexToken, WWWAddr: "192.0.2.80", NSAtKnot: true, WWWChallengeCNAME: cnameTarget},
			{Name: authZone, NSAtKnot: true, Extra: []string{fmt.Sprintf("%s 10 IN TXT %q", cnameLabel, delegToken)}},
		},
		Hidden:   []string{zone, authZone},
		Hosts:    []world.HostRecord{world.InternalCom, world.InternalWWW},
		KnotAddr: world.AddrPort(t, 53),
	}
}

// maxTTL is the max_ttl of every acmeforward here: small, so that a negative
// answer from before a record existed is not kept long by anything below.
const maxTTL = 2

// The CoreDNS configurations of the conformance tests.
func recursiveBlock(w *world.World) world.Acme {
	return world.Acme{Zones: []string{zone}, To: []netip.AddrPort{w.Knot.Addr}, Timeout: "1s", MaxTTL: maxTTL, Delegated: []string{authZone}}
}

// learnedBlock has no `delegated`: the CNAME target is learned from the
// forwarded challenge reply; max_learned at its minimum.
func learnedBlock(w *world.World) world.Acme {
	return world.Acme{Zones: []string{zone}, To: []netip.AddrPort{w.Knot.Addr}, Timeout: "1s", MaxTTL: maxTTL, MaxLearned: 16}
}

// authoritativeBlock: `to` is a caching resolver; the challenge questions go
// to the authoritative servers it finds. Their addresses are on loopback,
// which authoritative mode only uses when allow_ns lists it.
func authoritativeBlock(resolver netip.AddrPort) world.Acme {
	return world.Acme{Zones: []string{zone}, To: []netip.AddrPort{resolver}, Timeout: "1s", MaxTTL: maxTTL, Delegated: []string{authZone}, UpstreamMode: "authoritative", AllowNS: []string{"127.0.0.0/8"}}
}

// coreDNS is a CoreDNS of the test: on port 53 (a pod's resolv.conf has no
// port), with a resolv.conf that names it.
type coreDNS struct {
	*world.Server
	label      string // "recursive", "without acmeforward", ...
	resolvConf string
}

// startCoreDNS starts the cluster's server block (log, then everything to
// dnsmasq through a cache) with block ("" for none: the negative control).
func startCoreDNS(t *testing.T, w *world.World, name, label, block string) *coreDNS {
	t.Helper()
	c := startCustomCoreDNS(t, w, name, func(addr netip.AddrPort) string {
		return world.ClusterCorefile(addr, w.Dnsmasq.Addr, block)
	})
	c.label = label
	return c
}

// startCustomCoreDNS starts a CoreDNS on port 53 with the Corefile that
// corefile gives for its address, and a resolv.conf that names it.
func startCustomCoreDNS(t *testing.T, w *world.World, name string, corefile func(netip.AddrPort) string) *coreDNS {
	t.Helper()
	addr := world.AddrPort(t, 53)
	s := w.CoreDNST(t, world.CoreDNS{Name: name, Binary: world.CoreDNSBinary(t), Corefile: corefile(addr), Addr: addr})
	rc := filepath.Join(w.Dir, name+".resolv.conf")
	if err := world.WriteResolvConf(rc, addr); err != nil {
		t.Fatal(err)
	}
	return &coreDNS{Server: s, label: name, resolvConf: rc}
}

// startNodeCache starts a caching CoreDNS in front of upstream, as
// NodeLocal DNSCache sits in front of the cluster's CoreDNS (its Corefile's
// cache: success and denial kept at most 30 s and 5 s at least).
func startNodeCache(t *testing.T, w *world.World, upstream *coreDNS) *coreDNS {
	t.Helper()
	addr := world.AddrPort(t, 53)
	s := w.CoreDNST(t, world.CoreDNS{Name: "coredns-node-cache", Binary: world.CoreDNSBinary(t), Corefile: world.ClusterCorefile(addr, upstream.Addr, ""), Addr: addr})
	rc := filepath.Join(w.Dir, "coredns-node-cache.resolv.conf")
	if err := world.WriteResolvConf(rc, addr); err != nil {
		t.Fatal(err)
	}
	return &coreDNS{Server: s, label: "node-cache", resolvConf: rc}
}

// podResult is how a client run ended.
type podResult struct {
	argv   []string
	code   int // exit code; -1 when killed at the time limit
	output string
	took   time.Duration
}

func (r podResult) String() string {
	return fmt.Sprintf("$ %s\nexit %d after %v\n%s", strings.Join(r.argv, " "), r.code, r.took.Round(time.Millisecond), r.output)
}

// runInPod runs argv to its end (at most limit) in a private mount
// namespace whose /etc/resolv.conf is resolvConf, with env as its whole
// environment (plus PATH and LC_ALL): no proxy, no variable of this machine
// reaches the client. The client and whatever it starts are one process
// group, killed at the time limit.
func runInPod(t *testing.T, resolvConf string, env []string, limit time.Duration, argv ...string) podResult {
	t.Helper()
	full := world.PodArgv(resolvConf, argv...)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=" + t.TempDir()}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := world.StartCmd(cmd); err != nil {
		t.Fatalf("start %s: %v", strings.Join(full, " "), err)
	}
	err := cmd.Wait()
	r := podResult{argv: argv, output: out.String(), took: time.Since(start)}
	// Whatever the client left in its group.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.code = -1
		r.output += fmt.Sprintf("\n(killed after %v)", limit)
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("%s: %v", strings.Join(full, " "), err)
	}
	return r
}
