package deploy_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

// local says where a cluster Corefile's parts go when the test runs it on
// loopback.
type local struct {
	Listen  netip.AddrPort // the server block: its port, and a `bind` to its address
	Extra   netip.AddrPort // health, ready and prometheus, each on a port of its own here
	APIAddr netip.AddrPort // the kubernetes plugin's `endpoint` (nothing listens: no API server)
	Forward netip.AddrPort // `forward . /etc/resolv.conf` (the node's resolver) goes here
	To      string         // acmeforward's `to` arguments (the public resolvers) become these; "": no `to` line here
}

var (
	serverKey   = regexp.MustCompile(`^(\s*)\.:53(\s*\{\s*)$`)
	pluginLine  = regexp.MustCompile(`^(\s*)(health|ready|prometheus)(?:\s+\S*:\d+)?(\s*\{)?\s*$`)
	kubeOpen    = regexp.MustCompile(`^(\s*)kubernetes\s.*\{\s*$`)
	forwardConf = regexp.MustCompile(`^(\s*)forward\s+\.\s+/etc/resolv\.conf\b(.*)$`)
	toLine      = regexp.MustCompile(`^(\s*)to\s+\S.*$`)
	ipLiteral   = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
)

// localize rewrites a cluster Corefile (one `.:53` server block) so that it
// runs here, on loopback only, and changes nothing else: the block listens
// on l.Listen (`bind`), health/ready/prometheus listen on loopback ports
// instead of every address, the kubernetes plugin gets an `endpoint` on
// loopback where nothing answers (CoreDNS starts without a synced API after
// its wait; a Corefile without it is fine too), the node's resolver becomes
// l.Forward, and acmeforward's `to` becomes l.To. It fails the test if a line it must rewrite is missing, or if
// the result still names an address outside 127.0.0.0/8.
func localize(t *testing.T, corefile string, l local) string {
	t.Helper()
	var out []string
	seen := map[string]int{}
	port := l.Extra.Port()
	for _, line := range strings.Split(corefile, "\n") {
		switch {
		case serverKey.MatchString(line):
			m := serverKey.FindStringSubmatch(line)
			out = append(out, fmt.Sprintf("%s.:%d%s", m[1], l.Listen.Port(), m[2]), m[1]+"    bind "+l.Listen.Addr().String())
			seen["server"]++
		case pluginLine.MatchString(line):
			m := pluginLine.FindStringSubmatch(line)
			out = append(out, fmt.Sprintf("%s%s %s:%d%s", m[1], m[2], l.Extra.Addr(), port, m[3]))
			port++
			seen[m[2]]++
		case kubeOpen.MatchString(line):
			m := kubeOpen.FindStringSubmatch(line)
			out = append(out, line, m[1]+"    endpoint http://"+l.APIAddr.String())
			seen["kubernetes"]++
		case forwardConf.MatchString(line):
			m := forwardConf.FindStringSubmatch(line)
			out = append(out, fmt.Sprintf("%sforward . %s%s", m[1], l.Forward, m[2]))
			seen["forward"]++
		case toLine.MatchString(line):
			m := toLine.FindStringSubmatch(line)
			out = append(out, m[1]+"to "+l.To)
			seen["to"]++
		default:
			out = append(out, line)
		}
	}
	for _, want := range []string{"server", "health", "ready", "prometheus", "forward", "to"} {
		if n := seen[want]; n != 1 && !(want == "to" && l.To == "" && n == 0) {
			t.Fatalf("localize: %d %q lines (want 1) in\n%s", seen[want], want, corefile)
		}
	}
	if seen["kubernetes"] > 1 { // the image's own Corefile has none
		t.Fatalf("localize: %d kubernetes blocks in\n%s", seen["kubernetes"], corefile)
	}
	text := strings.Join(out, "\n")
	wantLoopbackOnly(t, text)
	return text
}

// localizeTo rewrites the one `to` line of an acmeforward block kept in a
// file of its own (k3s's *.override) to `to` plus to, and checks that the
// result names no address outside 127.0.0.0/8.
func localizeTo(t *testing.T, text, to string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	n := 0
	for i, line := range lines {
		if m := toLine.FindStringSubmatch(line); m != nil {
			lines[i] = m[1] + "to " + to
			n++
		}
	}
	if n != 1 {
		t.Fatalf("localizeTo: %d `to` lines (want 1) in\n%s", n, text)
	}
	out := strings.Join(lines, "\n")
	wantLoopbackOnly(t, out)
	return out
}

// wantLoopbackOnly fails the test if text names an IPv4 address outside
// 127.0.0.0/8: the test would send packets off the machine.
func wantLoopbackOnly(t *testing.T, text string) {
	t.Helper()
	for _, ip := range ipLiteral.FindAllString(text, -1) {
		if a, err := netip.ParseAddr(ip); err != nil || !a.IsLoopback() {
			t.Fatalf("%s is not a loopback address, in\n%s", ip, text)
		}
	}
}
