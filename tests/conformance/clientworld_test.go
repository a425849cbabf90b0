package conformance_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// Versions of what go.mod pins for the clients built here (the query logs
// name them).
const (
	lego5Version  = "v5.6.0"
	lego4Version  = "v4.35.2"
	pebbleVersion = "v2.10.3"
)

// clientWorld is the conformance world for the clients built here from
// the Go module proxy: pebble (the module proxy's, which offers dns-01,
// dns-account-01 and dns-persist-01) validating at knot, a CoreDNS with
// acmeforward in each upstream mode and one without it.
type clientWorld struct {
	w             *world.World
	pebble        *world.Pebble
	recursive     *coreDNS
	authoritative *coreDNS
	without       *coreDNS
}

func newClientWorld(t *testing.T) *clientWorld {
	t.Helper()
	world.CoreDNSBinary(t)
	pebbleBin := goBuild(t, "github.com/letsencrypt/pebble/v2/cmd/pebble")
	w := world.New(t, conformanceOptions(t))
	caching := w.UnboundT(t, false)
	return &clientWorld{
		w:             w,
		pebble:        w.PebbleBinaryT(t, pebbleBin, w.Knot.Addr),
		recursive:     startCoreDNS(t, w, "coredns-recursive", "recursive", recursiveBlock(w).String()),
		authoritative: startCoreDNS(t, w, "coredns-authoritative", "authoritative", authoritativeBlock(caching.Addr).String()),
		without:       startCoreDNS(t, w, "coredns-without", "without", ""),
	}
}

// withAcmeforward is the two upstream modes.
func (cw *clientWorld) withAcmeforward() []*coreDNS {
	return []*coreDNS{cw.recursive, cw.authoritative}
}

// clientRun is one run of a client built here (cmd/lego5-client,
// cmd/traefik-lego4-client) in a pod whose resolver is c: DNS-01 records
// written at knot by lego's exec provider running execScript, the
// certificate asked of the world's pebble.
type clientRun struct {
	cw        *clientWorld
	c         *coreDNS
	bin       string
	flags     []string
	domains   []string
	propLimit int // the provider's propagation timeout, seconds
}

func (r clientRun) run(t *testing.T) legoResult {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "exec.sh")
	execLog := filepath.Join(dir, "exec.log")
	if err := os.WriteFile(script, []byte(execScript(r.cw.w.Knot, execLog)), 0o755); err != nil {
		t.Fatal(err)
	}
	argv := []string{r.bin,
		"-server", r.cw.pebble.DirectoryURL,
		"-email", "acme@example.com",
		"-path", filepath.Join(dir, "lego"),
		"-resolvers", r.c.Addr.String(),
	}
	argv = append(argv, r.flags...)
	for _, d := range r.domains {
		argv = append(argv, "-d", d)
	}
	env := []string{
		"LEGO_CA_CERTIFICATES=" + r.cw.pebble.CACert,
		"EXEC_PATH=" + script,
		fmt.Sprintf("EXEC_PROPAGATION_TIMEOUT=%d", r.propLimit),
		"EXEC_POLLING_INTERVAL=1",
		"EXEC_SEQUENCE_INTERVAL=1",
		// lego v5's manual dns-persist-01 provider.
		fmt.Sprintf("DNSPERSIST_MANUAL_PROPAGATION_TIMEOUT=%d", r.propLimit),
		"DNSPERSIST_MANUAL_POLLING_INTERVAL=1",
	}
	res := runInPod(t, r.c.resolvConf, env, time.Duration(r.propLimit+60)*time.Second, argv...)
	el, _ := os.ReadFile(execLog)
	return legoResult{podResult: res, dir: filepath.Join(dir, "lego"), execLog: string(el)}
}

// wantFailed checks that a negative control's client failed and wrote no
// certificate, and gives its last line of output.
func (r legoResult) wantFailed(t *testing.T, domains []string) string {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("the client obtained a certificate through CoreDNS without acmeforward:\n%s", r)
	}
	if r.code < 0 {
		t.Fatalf("the client did not end by itself:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "certificates", strings.ReplaceAll(domains[0], "*", "_")+".crt")); err == nil {
		t.Fatalf("a certificate was written:\n%s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.output), "\n")
	return lines[len(lines)-1]
}

// onlyTCP reports the lookups in ls other than over TCP, the system
// resolver's address lookups (A, AAAA: lego dials the authoritative
// servers by name) aside.
func onlyTCP(ls []lookup) []lookup {
	var bad []lookup
	for _, l := range ls {
		if l.Proto != "tcp" && l.QType != "A" && l.QType != "AAAA" {
			bad = append(bad, l)
		}
	}
	return bad
}
