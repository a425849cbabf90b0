package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// startupLimit bounds a CoreDNS that should refuse its Corefile: if it is
// still running then, it accepted the Corefile (and is killed by PID).
const startupLimit = 20 * time.Second

// runBadCorefile runs `coredns -conf path` and returns its exit code and
// output; it fails the test if CoreDNS keeps running.
func runBadCorefile(t *testing.T, bin, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startupLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-conf", path)
	// A CoreDNS that wrongly accepted the Corefile dies with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("coredns -conf %s was still running after %v: it accepted a bad Corefile\n%s", path, startupLimit, out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	default:
		t.Fatalf("running coredns: %v", err)
		return 0, ""
	}
}

// wantStartupError runs `coredns -conf path` (text is the Corefile, in dir)
// and checks that it refuses to start: a non-zero exit, and output that names
// path at one of lines, holds token (unless ""), names the acmeforward plugin
// and holds each reason (case-insensitive; alternatives split by |). The
// token and reasons are looked for with dir cut out of the output: the path
// holds the test's name, which would otherwise satisfy them. It returns that
// output, dir replaced by "<dir>".
func wantStartupError(t *testing.T, bin, dir, path, text string, lines []int, token string, reasons []string) string {
	t.Helper()
	code, out := runBadCorefile(t, bin, path)
	t.Logf("exit %d: %s", code, strings.TrimSpace(out))
	if code == 0 {
		t.Fatalf("coredns exited 0 on a bad Corefile\n%s\n--- output ---\n%s", text, out)
	}
	at := false
	for _, l := range lines {
		at = at || strings.Contains(out, fmt.Sprintf("%s:%d", path, l))
	}
	if !at {
		t.Errorf("output does not name %s at line(s) %v\n%s\n--- output ---\n%s", path, lines, text, out)
	}
	msg := strings.ReplaceAll(out, dir, "<dir>")
	lower := strings.ToLower(msg)
	if token != "" && !strings.Contains(msg, token) {
		t.Errorf("output does not name the bad value %q\n--- output ---\n%s", token, out)
	}
	for _, r := range reasons {
		if !slices.ContainsFunc(strings.Split(strings.ToLower(r), "|"), func(alt string) bool { return strings.Contains(lower, alt) }) {
			t.Errorf("output lacks the reason %q\n%s\n--- output ---\n%s", r, text, out)
		}
	}
	if !strings.Contains(lower, "acmeforward") {
		t.Errorf("output does not name the acmeforward plugin\n--- output ---\n%s", out)
	}
	return msg
}

// A bad acmeforward block stops CoreDNS at start-up: non-zero exit, and the
// message names the Corefile, the line and the reason.
func TestBadCorefile(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t)
	w := world.New(t, world.Standard())
	dir := t.TempDir()

	// Line numbers:          1            2      3       4                  5        6      7   8       9
	// .:PORT { / bind / errors / acmeforward ZONES { / OPT5 / OPT6 / } / forward / }
	write := func(name, zones, opt5, opt6 string) (path, text string, addr netip.AddrPort) {
		addr = world.Addr(t)
		text = fmt.Sprintf(".:%d {\n    bind %s\n    errors\n    acmeforward %s {\n        %s\n        %s\n    }\n    forward . %s\n}\n",
			addr.Port(), addr.Addr(), zones, opt5, opt6, w.Dnsmasq.Addr)
		path = filepath.Join(dir, name+".Corefile")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path, text, addr
	}
	knot := w.Knot.Addr.String()

	// The template itself is good: each failure below is the changed line's.
	t.Run("good", func(t *testing.T) {
		path, _, addr := write("good", "example.com", "to "+knot, "timeout 500ms")
		s := w.CoreDNST(t, world.CoreDNS{Name: "coredns-good-corefile", Binary: bin, ConfPath: path, Addr: addr})
		world.WantTXT(t, ask(t, digUDP, s, world.ExampleCom.Challenge(), "TXT"), world.ExampleCom.Token)
	})

	for _, tc := range []struct {
		name              string
		zones, opt5, opt6 string
		lines             []int    // the error names one of these lines
		reason            []string // each must appear (case-insensitive)
	}{
		{"missing to", "example.com", "timeout 1s", "max_ttl 30", []int{4, 7}, []string{"'to'|`to", "missing|no upstream"}},
		{"to without address", "example.com", "to", "timeout 1s", []int{5}, []string{"'to'", "argument"}},
		{"bad address", "example.com", "to not-an-ip", "timeout 1s", []int{5}, []string{`"not-an-ip"`, "not an ip address"}},
		{"bad second address", "example.com", "to " + knot + " 127.0.0.300", "timeout 1s", []int{5}, []string{`"127.0.0.300"`, "not an ip address"}},
		{"bad port", "example.com", "to 127.0.0.1:99999", "timeout 1s", []int{5}, []string{`"127.0.0.1:99999"`, "port"}},
		{"unknown option", "example.com", "to " + knot, "frobnicate yes", []int{6}, []string{`"frobnicate"`, "unknown"}},
		{"bad zone", "exa..mple.com", "to " + knot, "timeout 1s", []int{4}, []string{`"exa..mple.com"`, "zone", "empty label"}},
		{"bad timeout", "example.com", "to " + knot, "timeout forever", []int{6}, []string{`"forever"`, "timeout", "duration"}},
		{"timeout out of range", "example.com", "to " + knot, "timeout 61s", []int{6}, []string{`"61s"`, "timeout", "range|60s"}},
		{"bad max_ttl", "example.com", "to " + knot, "max_ttl -1", []int{6}, []string{`"-1"`, "max_ttl"}},
		{"max_ttl out of range", "example.com", "to " + knot, "max_ttl 604801", []int{6}, []string{`"604801"`, "max_ttl", "range|604800"}},
		{"duplicate to", "example.com", "to " + knot, "to " + knot, []int{6}, []string{"duplicate", `"to"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, text, _ := write(strings.ReplaceAll(tc.name, " ", "-"), tc.zones, tc.opt5, tc.opt6)
			wantStartupError(t, bin, dir, path, text, tc.lines, "", tc.reason)
		})
	}
}
