package conformance_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// legoMode is a mode of lego's DNS-01 propagation check.
type legoMode struct {
	name  string
	flags []string
}

var (
	// lego's default: TXT through the resolvers (--dns.resolvers), then SOA
	// walk and NS through them, the nameserver addresses through the system
	// resolver, and TXT to each authoritative server on port 53.
	legoAuthoritative = legoMode{"authoritative", nil}
	// --dns.disable-cp: only the TXT lookup through the resolvers.
	legoRecursiveOnly = legoMode{"recursive-only", []string{"--dns.disable-cp"}}
)

// execScript is lego's EXEC_PATH: `present|cleanup FQDN VALUE`, FQDN being
// the challenge name after the CNAMEs lego followed. It adds or removes that
// one TXT value at knot by dynamic update (knsupdate, by address: it does not
// resolve anything) and notes what it did in its log.
func execScript(knot *world.Server, logPath string) string {
	return fmt.Sprintf(`#!/bin/sh
# lego exec provider: $1 = present|cleanup, $2 = FQDN (trailing dot), $3 = value
set -eu
case "$2" in
  *.%[1]s.) zone=%[1]s ;;
  *.%[2]s.) zone=%[2]s ;;
  *) echo "exec: no zone for $2" >&2; exit 1 ;;
esac
case "$1" in
  present) op="update add $2 1 TXT \"$3\"" ;;
  cleanup) op="update delete $2 TXT \"$3\"" ;;
  *) echo "exec: unknown command $1" >&2; exit 1 ;;
esac
printf 'server %%s %%s\nzone %%s.\n%%s\nsend\nquit\n' %[3]s %[4]d "$zone" "$op" | knsupdate -t 5 -r 0
echo "$1 $2 $3" >> %[5]q
`, zone, authZone, knot.Host(), knot.Port(), logPath)
}

// legoRun is one `lego run` in a pod whose resolver is c, with the TXT
// records written at knot by the exec script and the certificate asked of
// pebble.
type legoRun struct {
	c         *coreDNS
	pebble    *world.Pebble
	knot      *world.Server
	domains   []string
	mode      legoMode
	propLimit int // EXEC_PROPAGATION_TIMEOUT, seconds
	// oneCheck makes lego check propagation once: the interval between
	// checks (EXEC_POLLING_INTERVAL) is longer than propLimit, so no second
	// check starts.
	oneCheck bool
}

type legoResult struct {
	podResult
	dir     string // --path
	execLog string
}

func (l legoRun) run(t *testing.T) legoResult {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "exec.sh")
	execLog := filepath.Join(dir, "exec.log")
	if err := os.WriteFile(script, []byte(execScript(l.knot, execLog)), 0o755); err != nil {
		t.Fatal(err)
	}
	argv := []string{"lego",
		"--server", l.pebble.DirectoryURL,
		"--accept-tos", "--email", "acme@example.com",
		"--path", filepath.Join(dir, "lego"),
		"--dns", "exec",
		"--dns.resolvers", l.c.Addr.String(),
		"--dns-timeout", "2",
	}
	argv = append(argv, l.mode.flags...)
	for _, d := range l.domains {
		argv = append(argv, "-d", d)
	}
	argv = append(argv, "run")
	poll := 1
	if l.oneCheck {
		poll = l.propLimit + 1
	}
	env := []string{
		"LEGO_CA_CERTIFICATES=" + l.pebble.CACert,
		"EXEC_PATH=" + script,
		fmt.Sprintf("EXEC_PROPAGATION_TIMEOUT=%d", l.propLimit),
		fmt.Sprintf("EXEC_POLLING_INTERVAL=%d", poll),
		// The exec provider solves one challenge at a time, waiting this
		// long (default 60 s) between them.
		"EXEC_SEQUENCE_INTERVAL=1",
	}
	r := runInPod(t, l.c.resolvConf, env, time.Duration(l.propLimit+60)*time.Second, argv...)
	el, _ := os.ReadFile(execLog)
	return legoResult{podResult: r, dir: filepath.Join(dir, "lego"), execLog: string(el)}
}

// wantCert checks that lego wrote the certificate and its key, and that
// the certificate names exactly the domains.
func (r legoResult) wantCert(t *testing.T, domains []string) {
	t.Helper()
	base := filepath.Join(r.dir, "certificates", strings.ReplaceAll(domains[0], "*", "_"))
	if _, err := os.Stat(base + ".key"); err != nil {
		t.Fatalf("no private key: %v\n%s", err, r)
	}
	pemBytes, err := os.ReadFile(base + ".crt")
	if err != nil {
		t.Fatalf("no certificate: %v\n%s", err, r)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s.crt holds no PEM certificate", base)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	got, want := slices.Clone(cert.DNSNames), slices.Clone(domains)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("certificate SANs %q, want %q", got, want)
	}
	t.Logf("certificate for %q issued by %q", cert.DNSNames, cert.Issuer.CommonName)
}

// lego (Debian's 4.9.1) obtains a certificate for a zone and its wildcard,
// and for a name whose challenge is CNAME'd into another hidden zone, from
// pebble (Debian's 2.4.0), resolving through CoreDNS with acmeforward in
// recursive and authoritative mode; through the same CoreDNS without
// acmeforward its propagation check fails.
func TestLego(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	w := world.New(t, conformanceOptions(t))
	// pebble's validation authority: knot itself for the apex (the public
	// view); for the CNAME'd challenge a resolver, because knot does not
	// follow a CNAME out of its zone (Let's Encrypt's VA is a recursive
	// resolver too). That resolver keeps nothing, so that one test's TXT
	// values are never seen by the next.
	vaResolver := w.UnboundT(t, true)
	pebbleKnot := w.PebbleT(t, w.Knot.Addr)
	pebbleResolver := w.PebbleT(t, vaResolver.Addr)
	caching := w.UnboundT(t, false)
	rec := newRecorder(t)
	recursive := startCoreDNS(t, w, "coredns-recursive", "recursive", recursiveBlock(w).String())
	authoritative := startCoreDNS(t, w, "coredns-authoritative", "authoritative", authoritativeBlock(caching.Addr).String())
	without := startCoreDNS(t, w, "coredns-without", "without", "")

	apexDomains := []string{zone, "*." + zone}
	cnameDomains := []string{wwwDomain, "*." + wwwDomain}
	type scenario struct {
		name    string
		c       *coreDNS
		pebble  *world.Pebble
		domains []string
		mode    legoMode
		fqdn    string // where the exec script must have written the TXT
	}
	positive := []scenario{
		{"recursive/apex+wildcard/authoritative", recursive, pebbleKnot, apexDomains, legoAuthoritative, "_acme-challenge." + zone + "."},
		{"recursive/apex+wildcard/recursive-only", recursive, pebbleKnot, apexDomains, legoRecursiveOnly, "_acme-challenge." + zone + "."},
		{"recursive/CNAME-delegated/authoritative", recursive, pebbleResolver, cnameDomains, legoAuthoritative, cnameTarget + "."},
		{"authoritative/apex+wildcard/authoritative", authoritative, pebbleKnot, apexDomains, legoAuthoritative, "_acme-challenge." + zone + "."},
		{"authoritative/CNAME-delegated/authoritative", authoritative, pebbleResolver, cnameDomains, legoAuthoritative, cnameTarget + "."},
	}
	for _, s := range positive {
		t.Run(s.name, func(t *testing.T) {
			ql := beginLog(s.c)
			r := legoRun{c: s.c, pebble: s.pebble, knot: w.Knot, domains: s.domains, mode: s.mode, propLimit: 30}.run(t)
			ls := ql.end(t)
			if r.code != 0 {
				t.Fatalf("lego failed through %s (acmeforward %s):\n%s\nexec log:\n%s\nlookups through CoreDNS:\n%s", s.c.Server, s.c.label, r, r.execLog, formatLookups(ls))
			}
			t.Logf("lego took %v", r.took.Round(time.Millisecond))
			r.wantCert(t, s.domains)
			// The exec script got the name after the CNAME (lego followed it
			// through CoreDNS) and wrote one value per domain.
			if n := strings.Count(r.execLog, "present "+s.fqdn+" "); n != len(s.domains) {
				t.Errorf("exec script: %d presents at %s, want %d\n%s", n, s.fqdn, len(s.domains), r.execLog)
			}
			if !has(ls, "TXT", s.fqdn) {
				t.Errorf("no TXT lookup of %s through CoreDNS\n%s", s.fqdn, formatLookups(ls))
			}
			if s.mode.name == "authoritative" {
				apex := zone
				if s.fqdn == cnameTarget+"." {
					apex = authZone
				}
				for _, want := range [][2]string{{"SOA", apex + "."}, {"NS", apex + "."}, {"A", "ns1." + apex + "."}} {
					if !has(ls, want[0], want[1]) {
						t.Errorf("no %s lookup of %s through CoreDNS\n%s", want[0], want[1], formatLookups(ls))
					}
				}
			}
			rec.add("lego", s.mode.name, s.c.label+"/"+strings.Split(s.name, "/")[1], ls)
		})
	}

	// Negative controls: the propagation check cannot succeed without
	// acmeforward; a short EXEC_PROPAGATION_TIMEOUT bounds it.
	for _, s := range []scenario{
		{"without-acmeforward/apex+wildcard/authoritative", without, pebbleKnot, apexDomains, legoAuthoritative, ""},
		{"without-acmeforward/CNAME-delegated/authoritative", without, pebbleResolver, cnameDomains, legoAuthoritative, ""},
	} {
		t.Run(s.name, func(t *testing.T) {
			r := legoRun{c: s.c, pebble: s.pebble, knot: w.Knot, domains: s.domains, mode: s.mode, propLimit: 3}.run(t)
			if r.code == 0 {
				t.Fatalf("lego obtained a certificate through CoreDNS without acmeforward:\n%s", r)
			}
			if r.code < 0 || !strings.Contains(r.output, "time limit exceeded") {
				t.Fatalf("lego did not fail in its propagation check:\n%s", r)
			}
			if _, err := os.Stat(filepath.Join(r.dir, "certificates", s.domains[0]+".crt")); err == nil {
				t.Fatalf("a certificate was written")
			}
			t.Logf("fails as it should: %s", strings.TrimSpace(lineWith(r.output, "] time limit exceeded")))
		})
	}
}
