package conformance_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// alternative is one way an operator may fix the failing self check, as the
// README's comparison table describes it, set up in the conformance world.
type alternative struct {
	name string
	// pod is the resolver in the checking pod's resolv.conf.
	pod *coreDNS
	// nameservers is cert-manager's --dns01-recursive-nameservers ("" for
	// the pod's resolv.conf).
	nameservers string
	// The outcome the README claims, per check: cert-manager's check in
	// each mode for the apex challenge and for the CNAME-delegated one, and
	// whether the pod still gets the internal answer for an internal name.
	apexRecursiveOnly, apexDefault, cnameRecursiveOnly, cnameDefault bool
	internalAnswer                                                   bool
}

// TestAlternatives backs the README's comparison table with the same
// clients and world as the other conformance tests: cert-manager's own check
// in both modes, and an internal name looked up through the pod's resolver,
// for each DNS-side alternative to acmeforward. What each row claims is in
// its fields; a row that behaves otherwise fails.
func TestAlternatives(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t)
	checker(t)
	w := world.New(t, conformanceOptions(t))
	public := w.UnboundT(t, false)

	withAcmeforward := startCoreDNS(t, w, "coredns-acmeforward", "acmeforward", recursiveBlock(w).String())
	without := startCoreDNS(t, w, "coredns-plain", "without", "")
	// A stand-in for the public resolver a pod's dnsConfig would name, on
	// port 53: it forwards everything to the public view.
	publicResolver := startCustomCoreDNS(t, w, "public-resolver", func(addr netip.AddrPort) string {
		return fmt.Sprintf(".:%d {\n    bind %s\n    log\n    forward . %s\n}\n", addr.Port(), addr.Addr(), public.Addr)
	})
	// One server block per challenge name, forwarded to the public view.
	blockPerName := startCustomCoreDNS(t, w, "coredns-block-per-name", func(addr netip.AddrPort) string {
		return fmt.Sprintf("_acme-challenge.%s:%d {\n    bind %s\n    log\n    forward . %s\n}\n", zone, addr.Port(), addr.Addr(), public.Addr) +
			world.ClusterCorefile(addr, w.Dnsmasq.Addr, "")
	})
	// CoreDNS's view plugin routing every _acme-challenge name to a block
	// that forwards to the public view.
	viewForward := startCustomCoreDNS(t, w, "coredns-view-forward", func(addr netip.AddrPort) string {
		return fmt.Sprintf(".:%d {\n    bind %s\n    view acme {\n        expr name() matches '^_acme-challenge[.]'\n    }\n    log\n    forward . %s\n}\n", addr.Port(), addr.Addr(), public.Addr) +
			world.ClusterCorefile(addr, w.Dnsmasq.Addr, "")
	})

	rows := []alternative{
		{name: "acmeforward", pod: withAcmeforward,
			apexRecursiveOnly: true, apexDefault: true, cnameRecursiveOnly: true, cnameDefault: true, internalAnswer: true},
		{name: "nothing", pod: without, internalAnswer: true},
		{name: "pod-dnsConfig-public-resolver", pod: publicResolver,
			apexRecursiveOnly: true, apexDefault: true, cnameRecursiveOnly: true, cnameDefault: true},
		// --dns01-recursive-nameservers with -only: only the mode it sets
		// exists; the pod's own resolver keeps the internal view.
		{name: "cert-manager-recursive-nameservers-only", pod: without, nameservers: public.Addr.String(),
			apexRecursiveOnly: true, cnameRecursiveOnly: true, internalAnswer: true},
		// The TXT of the one name goes out; the SOA walk and the NS lookups of
		// the default check stay inside, and so does the CNAME target.
		{name: "server-block-per-name", pod: blockPerName, apexRecursiveOnly: true, internalAnswer: true},
		{name: "view-forward", pod: viewForward, apexRecursiveOnly: true, internalAnswer: true},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			for _, c := range []struct {
				ch   challenge
				m    cmMode
				want bool
			}{
				{apexChallenge, cmModes[0], row.apexRecursiveOnly},
				{apexChallenge, cmModes[1], row.apexDefault},
				{cnameChall, cmModes[0], row.cnameRecursiveOnly},
				{cnameChall, cmModes[1], row.cnameDefault},
			} {
				if row.nameservers != "" && c.m.name != "recursive-only" {
					continue // the flag pair sets the mode
				}
				m := c.m
				if row.nameservers != "" {
					m.flags = append([]string{"-nameservers", row.nameservers}, m.flags...)
				}
				r := runCheck(t, row.pod, c.ch.domain, c.ch.key, m)
				if got := r.code == 0; got != c.want {
					t.Errorf("%s, %s check: passed=%v, the README says %v\n%s", c.ch.name, c.m.name, got, c.want, r)
					continue
				}
				verdict := "passes"
				if r.code != 0 {
					verdict = "fails: " + lastLine(r.output, "FAIL: ")
				}
				t.Logf("%s, %s check %s", c.ch.name, c.m.name, verdict)
			}
			got, err := world.Dig(world.Query{Server: row.pod.Addr, Name: world.InternalCom.Name, Type: "A"})
			if err != nil {
				t.Fatal(err)
			}
			as := got.Records("A")
			internal := got.Rcode == "NOERROR" && len(as) == 1 && as[0].Data == world.InternalCom.Addr
			if internal != row.internalAnswer {
				t.Errorf("%s A through the pod's resolver: internal answer %v, the README says %v\n%s", world.InternalCom.Name, internal, row.internalAnswer, got)
			}
			t.Logf("%s A: %s", world.InternalCom.Name, got.Rcode)
		})
	}
}
