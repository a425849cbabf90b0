package e2e_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// TestNotifyReachesSecondary: CoreDNS serves an internal zone as a secondary
// of knot (the primary), and acmeforward lists the same zone, so a QUERY for
// its apex SOA would be forwarded. knot's NOTIFY for that SOA is no query:
// it reaches the secondary plugin, which transfers the zone at once, and a
// record added at the primary shows through CoreDNS within seconds, not
// after the SOA refresh (3600 s).
func TestNotifyReachesSecondary(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t) // before anything starts
	coredns := world.Addr(t)
	corp := world.Zone{Name: "corp.example", Token: "token-corp", WWWAddr: "192.0.2.90", Notify: []netip.AddrPort{coredns}}
	w := world.New(t, world.Options{Zones: []world.Zone{corp}})
	knot := w.Knot.Addr
	corefile := fmt.Sprintf(`corp.example:%d {
    bind %s
    errors
    log
%s    secondary corp.example {
        transfer from %s
    }
}
`, coredns.Port(), coredns.Addr(), world.Acme{Zones: []string{"corp.example"}, To: []netip.AddrPort{knot}, Timeout: "500ms", MaxTTL: 30}, knot)
	s := w.CoreDNST(t, world.CoreDNS{Name: "coredns", Binary: bin, Corefile: corefile, Addr: coredns})

	// poll asks CoreDNS until got holds, for 10 s at most.
	poll := func(name, typ string, got func(*world.Response) bool) *world.Response {
		t.Helper()
		var r *world.Response
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var err error
			r, err = world.Dig(world.Query{Server: s.Addr, Name: name, Type: typ, Timeout: time.Second})
			if err == nil && got(r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s through CoreDNS: not there after 10s (last reply: %v, %v)", name, typ, r, err)
			}
		}
	}
	// The first transfer, at start-up: the secondary answers for the zone
	// (an A question, which acmeforward never forwards here).
	poll("www.corp.example", "A", func(r *world.Response) bool { return len(r.Records("A")) == 1 })

	// A record added at the primary: knot sends NOTIFY, the secondary
	// transfers the zone again.
	if err := w.UpdateTXT("corp.example", "new.corp.example", 60, "added-after-start"); err != nil {
		t.Fatal(err)
	}
	r := poll("new.corp.example", "TXT", func(r *world.Response) bool {
		return slices.Contains(r.TXTs(), "added-after-start")
	})
	world.WantTXT(t, r, "added-after-start")
}
