package conformance_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// traefikMode is a Traefik dnsChallenge.propagation setting.
type traefikMode struct {
	name  string
	flags []string
}

var traefikModes = []traefikMode{
	// requireAllRNS: the TXT record at every resolver (asked with RD
	// clear), then at the authoritative servers.
	{"requireAllRNS", []string{"-require-all-rns"}},
	// requireAllRNS and disableANSChecks: only the resolvers, RD clear.
	{"requireAllRNS+disableANSChecks", []string{"-require-all-rns", "-disable-ans"}},
}

// Traefik's DNS-01 options (lego v4 at the version go.mod pins, with the
// options Traefik's ACME provider sets) with propagation.requireAllRNS ask
// the resolver for the TXT record with the RD bit clear. Through CoreDNS
// with acmeforward, in recursive and authoritative mode, such a question
// gets the public record with its own RD bit back, and the client obtains
// its certificate from pebble; through the same CoreDNS without acmeforward
// the question gets no record and the client fails.
func TestTraefikRequireAllRNS(t *testing.T) {
	t.Parallel()
	bin := goBuild(t, "./cmd/traefik-lego4-client")
	cw := newClientWorld(t)
	rec := newRecorder(t)
	challenge := "_acme-challenge." + zone + "."

	// The question itself, asked directly: the zone's own TXT record at
	// the challenge name (apexToken) comes back with the question's RD bit.
	for _, c := range cw.withAcmeforward() {
		for _, rd := range []bool{false, true} {
			r := exchangeTXT(t, c, challenge, rd)
			if r.Rcode != dns.RcodeSuccess || !slices.Contains(txtValues(r), apexToken) {
				t.Errorf("%s (acmeforward %s), RD=%v: no %q in\n%s", c.Server, c.label, rd, apexToken, r)
			}
			if r.RecursionDesired != rd {
				t.Errorf("%s (acmeforward %s): asked with RD=%v, the reply has RD=%v\n%s", c.Server, c.label, rd, r.RecursionDesired, r)
			}
		}
	}
	if r := exchangeTXT(t, cw.without, challenge, false); slices.Contains(txtValues(r), apexToken) {
		t.Errorf("%s without acmeforward gave the public record to an RD=0 question:\n%s", cw.without.Server, r)
	}

	domains := []string{zone, "*." + zone}
	client := "traefik-lego-" + lego4Version
	for _, c := range cw.withAcmeforward() {
		for _, m := range traefikModes {
			t.Run(c.label+"/"+m.name, func(t *testing.T) {
				ql := beginLog(c)
				r := clientRun{cw: cw, c: c, bin: bin, flags: m.flags, domains: domains, propLimit: 30}.run(t)
				ls := ql.end(t)
				if r.code != 0 {
					t.Fatalf("lego v4 (Traefik's options) failed through %s (acmeforward %s):\n%s\nexec log:\n%s\nlookups through CoreDNS:\n%s", c.Server, c.label, r, r.execLog, formatLookups(ls))
				}
				t.Logf("lego v4 took %v", r.took.Round(time.Millisecond))
				r.wantCert(t, domains)
				if n := strings.Count(r.execLog, "present "+challenge+" "); n != len(domains) {
					t.Errorf("exec script: %d presents at %s, want %d\n%s", n, challenge, len(domains), r.execLog)
				}
				// requireAllRNS's question: TXT, RD clear, answered.
				if !slices.ContainsFunc(ls, func(l lookup) bool {
					return l.QType == "TXT" && l.QName == challenge && !l.RD && l.Rcode == "NOERROR"
				}) {
					t.Errorf("no RD=0 TXT lookup of %s answered NOERROR through CoreDNS\n%s", challenge, formatLookups(ls))
				}
				lookedForNS := has(ls, "NS", zone+".")
				if wantNS := !slices.Contains(m.flags, "-disable-ans"); lookedForNS != wantNS {
					t.Errorf("NS lookup of %s through CoreDNS: %v, want %v\n%s", zone, lookedForNS, wantNS, formatLookups(ls))
				}
				rec.add(client, m.name, c.label, ls)
			})
		}
	}

	// Negative controls: without acmeforward the RD=0 question gets no
	// record; a short propagation timeout bounds the wait.
	for _, m := range traefikModes {
		t.Run("without-acmeforward/"+m.name, func(t *testing.T) {
			r := clientRun{cw: cw, c: cw.without, bin: bin, flags: m.flags, domains: domains, propLimit: 3}.run(t)
			why := r.wantFailed(t, domains)
			if !strings.Contains(r.output, "time limit exceeded: last error: recursive nameservers: NS "+cw.without.Addr.String()) {
				t.Fatalf("lego v4 did not fail in its check at the resolver:\n%s", r)
			}
			t.Logf("fails as it should: %s", why)
		})
	}
}

// exchangeTXT asks c for the TXT records of name over UDP, with the RD bit
// as given and EDNS0 as lego sets it.
func exchangeTXT(t *testing.T, c *coreDNS, name string, rd bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	m.SetEdns0(4096, false)
	m.RecursionDesired = rd
	cl := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := cl.Exchange(m, c.Addr.String())
	if err != nil {
		t.Fatalf("TXT %s to %s: %v", name, c.Server, err)
	}
	return r
}

func txtValues(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out
}
