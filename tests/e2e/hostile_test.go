package e2e_test

// A hostile upstream: every way of answering that must not reach a client
// as it came (world.Fake's modes), one CoreDNS each, with that fake as its
// only `to`. The client must get the true answer or SERVFAIL (a CNAME loop:
// the loop itself), never a byte of the garbage; where the true reply follows the bad one (an off-path
// attacker racing the real server), the client must get the true answer;
// and each kind must be counted, by reason, in the drop or failure
// counters.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/acmeforward/acmeforward/tests/world"
)

// hostileTimeout is the per-try timeout of these CoreDNS; a late reply
// comes hostileLate after the query, past it.
const (
	hostileTimeout = 500 * time.Millisecond
	hostileLate    = hostileTimeout + 300*time.Millisecond
)

// hostileKind is one row of the table.
type hostileKind struct {
	mode world.FakeMode
	// udp and tcp are the outcomes (see outcome) a dig over UDP and over
	// TCP may get; "GARBAGE" is never one of them.
	udp, tcp []string
	// counted are the counters ("dropped/<reason>", "failure/<reason>") of
	// which at least one must move for a UDP question; none: nothing may
	// move.
	counted []string
}

var (
	anySafe      = []string{"good", "tcp", "servfail"} // never the garbage
	onlyGood     = []string{"good"}
	onlyServfail = []string{"servfail"}
	anyDropped   = []string{"dropped/id_mismatch", "dropped/not_a_response", "dropped/question_mismatch"}
	// The two CNAMEs of a loop, as the upstream gave them: a loop has no
	// end, so the garbage on it is no answer and goes.
	loopAsGiven = []string{"NOERROR with 2/0/0 records"}
)

var hostileKinds = []hostileKind{
	{world.FakeGood, onlyGood, onlyGood, nil},
	// Alone: no true reply follows, so the try ends at its timeout.
	{world.FakeRandom, onlyServfail, anySafe, append(slices.Clone(anyDropped), "failure/invalid_reply")},
	{world.FakeWrongID, onlyServfail, anySafe, []string{"dropped/id_mismatch"}},
	{world.FakeWrongCase, onlyServfail, anySafe, []string{"dropped/question_mismatch"}},
	{world.FakeWrongQuestion, onlyServfail, anySafe, []string{"dropped/question_mismatch"}},
	{world.FakeNotResponse, onlyServfail, anySafe, []string{"dropped/not_a_response"}},
	{world.FakeSilent, onlyServfail, onlyServfail, []string{"failure/timeout"}},
	// The try's socket is closed at its deadline: the kernel drops the late
	// reply, and the try is counted as the timeout it was.
	{world.FakeLate, onlyServfail, onlyServfail, []string{"failure/timeout", "dropped/late"}},
	// Racing the true reply: the client must get it.
	{world.FakeForgedIDFirst, onlyGood, anySafe, []string{"dropped/id_mismatch"}},
	{world.FakeForgedCaseFirst, onlyGood, anySafe, []string{"dropped/question_mismatch"}},
	{world.FakeOtherPort, onlyGood, onlyGood, []string{"dropped/source_mismatch"}},
	{world.FakeOtherAddr, onlyGood, onlyGood, []string{"dropped/source_mismatch"}},
	// The try's socket is closed once the first copy is used: the kernel drops
	// the second one, which nothing in CoreDNS ever reads; nothing may move.
	{world.FakeDuplicate, onlyGood, anySafe, nil},
	// From the right source, failing validation: the next upstream (none
	// here, so SERVFAIL).
	{world.FakeForeign, onlyServfail, onlyServfail, []string{"failure/invalid_reply"}},
	{world.FakeServfail, onlyServfail, onlyServfail, []string{"failure/upstream_error"}},
	{world.FakeRefused, onlyServfail, onlyServfail, []string{"failure/upstream_error"}},
	{world.FakePointerLoop, onlyServfail, onlyServfail, []string{"failure/invalid_reply"}},
	{world.FakeCNAMELoop, loopAsGiven, loopAsGiven, nil},
	{world.FakeCNAMEOffChain, onlyServfail, onlyServfail, []string{"failure/invalid_reply"}},
	{world.FakeCutShort, onlyServfail, onlyServfail, []string{"failure/invalid_reply"}},
	// An oversized UDP reply is refused (the fake's TCP answer is fine, so a
	// TCP retry may get it); TC goes to TCP, which answers.
	{world.FakeOversized, []string{"servfail", "tcp"}, []string{"tcp"}, []string{"failure/invalid_reply", "failure/truncated"}},
	{world.FakeTruncate, []string{"tcp"}, []string{"tcp"}, []string{"failure/truncated"}},
	{world.FakeTruncateNoTCP, onlyServfail, onlyServfail, []string{"failure/truncated"}},
}

// hostileRow is what one kind did.
type hostileRow struct {
	udp, tcp, moved, want, raced string
	ok                           bool
}

// racing are the kinds where a bad datagram races the true reply: each is
// asked raceAsks more times over UDP, and every one must get the true answer.
var racing = []world.FakeMode{world.FakeForgedIDFirst, world.FakeForgedCaseFirst, world.FakeOtherPort, world.FakeOtherAddr}

const raceAsks = 10

func TestHostileUpstream(t *testing.T) {
	t.Parallel()
	world.CoreDNSBinary(t) // before anything starts
	w := world.New(t, world.Options{Hidden: []string{"example.com"}, Hosts: []world.HostRecord{world.InternalCom}})
	var mu sync.Mutex
	rows := map[world.FakeMode]hostileRow{}

	t.Run("kinds", func(t *testing.T) {
		for _, k := range hostileKinds {
			t.Run(k.mode.String(), func(t *testing.T) {
				t.Parallel()
				row := hostileRow{want: strings.Join(k.udp, "|") + "; " + strings.Join(k.counted, "|")}
				defer func() {
					row.ok = !t.Failed()
					mu.Lock()
					rows[k.mode] = row
					mu.Unlock()
				}()
				f := world.FakeT(t, world.FakeConfig{Mode: k.mode, Delay: hostileLate})
				// No zone listed: every challenge name is forwarded, and there
				// is no prefetch of a zone's nameservers, so the fake sees the
				// client's questions only and the counters count them alone.
				s, metrics := startCoreDNSMetrics(t, w, "coredns-"+k.mode.String(), world.Acme{
					To: []netip.AddrPort{f.Addr}, Timeout: hostileTimeout.String(), MaxTTL: 30})
				name := "_acme-challenge." + k.mode.String() + ".example.com"

				before := replyCounts(t, metrics)
				r := hostileAsk(t, s, name, false)
				row.udp = outcome(r)
				if strings.Contains(r.Output, "Truncated") {
					row.udp += " (dig retried over TCP)"
				}
				// The counters move when CoreDNS has read the reply, which for
				// a late or duplicate reply is after the client's answer: poll,
				// with a hang guard.
				after := before
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
					after = replyCounts(t, metrics)
					if len(k.counted) == 0 || slices.ContainsFunc(k.counted, func(c string) bool { return after[c] > before[c] }) || time.Now().After(deadline) {
						break
					}
				}
				row.moved = countDeltas(before, after)
				if f.Hits() == 0 {
					t.Fatal("the fake upstream was never asked")
				}
				if !slices.Contains(k.udp, outcome(r)) {
					t.Errorf("over UDP the client got %s, want %s\n%s", row.udp, strings.Join(k.udp, " or "), r)
				}
				switch {
				case len(k.counted) == 0 && row.moved != "(none)":
					t.Errorf("counted %s, want nothing dropped or failed", row.moved)
				case len(k.counted) > 0 && !slices.ContainsFunc(k.counted, func(c string) bool { return after[c] > before[c] }):
					t.Errorf("none of %s moved (moved: %s)", strings.Join(k.counted, ", "), row.moved)
				}

				if slices.Contains(racing, k.mode) {
					good := 0
					for i := range raceAsks {
						if outcome(hostileAsk(t, s, fmt.Sprintf("_acme-challenge.race%d.%s.example.com", i, k.mode), false)) == "good" {
							good++
						}
					}
					row.raced = fmt.Sprintf("%d/%d", good, raceAsks)
					if good != raceAsks {
						t.Errorf("with the bad datagram racing the true reply, %d of %d lookups got the true answer, want all", good, raceAsks)
					}
				}

				r = hostileAsk(t, s, name, true)
				row.tcp = outcome(r)
				if !slices.Contains(k.tcp, row.tcp) {
					t.Errorf("over TCP the client got %s, want %s\n%s", row.tcp, strings.Join(k.tcp, " or "), r)
				}
				// The rest of the server block is not affected.
				world.WantA(t, ask(t, digUDP, s, world.InternalCom.Name, "A"), world.InternalCom.Addr)
			})
		}
	})

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tclient (UDP)\tclient (TCP)\tcounted (UDP question)\twant (UDP; counters)\traced (true answers)\tresult")
	for _, k := range hostileKinds {
		r, ok := rows[k.mode]
		if !ok {
			continue
		}
		res := "ok"
		if !r.ok {
			res = "FAIL"
		}
		raced := r.raced
		if raced == "" {
			raced = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.mode, r.udp, r.tcp, r.moved, r.want, raced, res)
	}
	tw.Flush()
	t.Logf("hostile upstream, one CoreDNS per kind (timeout %v, late replies %v after the query):\n%s", hostileTimeout, hostileLate, b.String())
}

// hostileAsk asks name TXT with dig, waiting long enough for any SERVFAIL
// (the bound is a hang guard).
func hostileAsk(t *testing.T, s *world.Server, name string, tcp bool) *world.Response {
	t.Helper()
	r, err := world.Dig(world.Query{Server: s.Addr, Name: name, Type: "TXT", TCP: tcp, Timeout: 15 * time.Second})
	if err != nil {
		t.Fatalf("no usable reply from %s: %v", s, err)
	}
	return r
}
