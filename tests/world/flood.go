package world

// Load on loopback: a flood of queries over UDP at a fixed rate from many
// sockets, and ordinary clients that ask one question at a time and wait
// for the answer, as pods do while the flood runs. Used by the flood test
// (e2e) and the soak (cmd/soak, benches/soak).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadCorefile is the server block of the load tests: listen, prometheus
// on metrics, the acmeforward block, `template` answering every A question
// under svc.cluster.local (an in-cluster name: the plugin chain answers it
// without any upstream), and everything else through `cache 30` to
// internal. No `log` or `errors`: a flood would write a line per query.
func LoadCorefile(listen, metrics, internal netip.AddrPort, block string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".:%d {\n    bind %s\n    prometheus %s\n%s", listen.Port(), listen.Addr(), metrics, block)
	fmt.Fprintf(&b, "    template IN A svc.cluster.local {\n        answer \"{{ .Name }} 60 IN A %s\"\n    }\n", OrdinaryServiceAddr)
	fmt.Fprintf(&b, "    cache 30\n    forward . %s\n}\n", internal)
	return b.String()
}

// OrdinaryServiceAddr is the template's answer for svc.cluster.local names.
const OrdinaryServiceAddr = "10.96.0.10"

// ChallengeName is a fresh `_acme-challenge.<random>.<zone>` name: every
// one is a new question, so no two share an upstream exchange.
func ChallengeName(rnd *rand.Rand, zone string) string {
	return fmt.Sprintf("_acme-challenge.f%016x.%s", rnd.Uint64(), zone)
}

// buildQueryRD is BuildQuery with RD set, as a stub resolver asks.
func buildQueryRD(id uint16, name string, qtype uint16) ([]byte, error) {
	q, err := BuildQuery(id, name, qtype)
	if err == nil {
		q[2] |= 0x01
	}
	return q, err
}

// replyHeader reads what the load needs from a reply: ID, rcode, and the
// answer count; ok is false for anything that is not a response.
func replyHeader(m []byte) (id uint16, rcode int, answers int, ok bool) {
	if len(m) < 12 || m[2]&0x80 == 0 {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint16(m), int(m[3] & 0x0f), int(binary.BigEndian.Uint16(m[6:])), true
}

// Flood sends Rate queries per second over UDP to Server, spread over
// Senders sockets, for Duration, and counts the replies by rcode until Drain
// after the last send.
type Flood struct {
	Server   netip.AddrPort
	Rate     int
	Senders  int
	Duration time.Duration
	Drain    time.Duration
	// Name gives each query's name; Type is its type.
	Name func(rnd *rand.Rand) string
	Type uint16
}

// FloodStats counts what a flood sent and got back.
type FloodStats struct {
	Sent       int64
	SendErrors int64
	Replies    int64
	// Answered: NOERROR replies with at least one answer record.
	Answered int64
	Rcodes   [16]int64
}

// String gives the counts on one line.
func (s FloodStats) String() string {
	var rc []string
	for i, n := range s.Rcodes {
		if n > 0 {
			rc = append(rc, fmt.Sprintf("%s %d", RcodeName(i), n))
		}
	}
	return fmt.Sprintf("sent %d (send errors %d), replies %d (%s), answered %d",
		s.Sent, s.SendErrors, s.Replies, strings.Join(rc, ", "), s.Answered)
}

// Run floods until Duration has passed or ctx ends, then reads replies for
// Drain (or until ctx ends) and returns the counts.
func (f Flood) Run(ctx context.Context) (FloodStats, error) {
	if err := MustLoopback(f.Server); err != nil {
		return FloodStats{}, err
	}
	if f.Rate <= 0 || f.Senders <= 0 || f.Name == nil {
		return FloodStats{}, errors.New("flood needs a rate, senders and a name function")
	}
	var sent, sendErrs, replies, answered atomic.Int64
	var rcodes [16]atomic.Int64
	conns := make([]*net.UDPConn, 0, f.Senders)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < f.Senders; i++ {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(f.Server))
		if err != nil {
			return FloodStats{}, err
		}
		_ = c.SetReadBuffer(1 << 20)
		conns = append(conns, c)
	}
	var readers, senders sync.WaitGroup
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue // ICMP errors and the like: keep reading
				}
				if _, rcode, an, ok := replyHeader(buf[:n]); ok {
					replies.Add(1)
					rcodes[rcode].Add(1)
					if rcode == 0 && an > 0 {
						answered.Add(1)
					}
				}
			}
		}()
	}
	start := time.Now()
	perSender := float64(f.Rate) / float64(f.Senders)
	for i, c := range conns {
		senders.Add(1)
		go func() {
			defer senders.Done()
			rnd := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i)))
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			done := int64(0)
			for {
				elapsed := time.Since(start)
				if elapsed >= f.Duration {
					elapsed = f.Duration
				}
				// Open loop: as many as the rate asks by now, whatever the
				// server does with them.
				for due := int64(perSender * elapsed.Seconds()); done < due; done++ {
					q, err := buildQueryRD(uint16(rnd.Uint32()), f.Name(rnd), f.Type)
					if err != nil {
						sendErrs.Add(1)
						continue
					}
					if _, err := c.Write(q); err != nil {
						sendErrs.Add(1)
						continue
					}
					sent.Add(1)
				}
				if elapsed >= f.Duration {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	senders.Wait()
	select {
	case <-ctx.Done():
	case <-time.After(f.Drain):
	}
	for _, c := range conns {
		c.Close()
	}
	readers.Wait()
	conns = nil
	st := FloodStats{Sent: sent.Load(), SendErrors: sendErrs.Load(), Replies: replies.Load(), Answered: answered.Load()}
	for i := range rcodes {
		st.Rcodes[i] = rcodes[i].Load()
	}
	return st, nil
}

// Ordinary is the ordinary traffic: Workers clients, each asking one
// question at a time over UDP and waiting for its answer, as a stub
// resolver does: up to Tries tries of TryTimeout each.
type Ordinary struct {
	Server     netip.AddrPort
	Workers    int
	Tries      int
	TryTimeout time.Duration
	// Pause is each worker's wait between two questions.
	Pause time.Duration
	// Question gives each question; its answer must be NOERROR with at
	// least one answer record.
	Question func(rnd *rand.Rand) (name string, qtype uint16)
}

// OrdinaryStats counts the ordinary questions.
type OrdinaryStats struct {
	Asked    int64
	Answered int64 // NOERROR with an answer, on some try
	Retried  int64 // answered, but not on the first try
	Failed   int64 // no answer after every try, or a wrong one
	// Failures are the first few failures, described.
	Failures []string
}

// String gives the counts on one line.
func (s OrdinaryStats) String() string {
	return fmt.Sprintf("asked %d, answered %d (%d after a retry), failed %d", s.Asked, s.Answered, s.Retried, s.Failed)
}

// OrdinaryQuestions alternates an in-cluster name that the template
// answers (a fresh one each time, so no cache answers it) and the internal
// server's name (forward, then the cache).
func OrdinaryQuestions(internal string) func(rnd *rand.Rand) (string, uint16) {
	return func(rnd *rand.Rand) (string, uint16) {
		if rnd.IntN(2) == 0 {
			return fmt.Sprintf("svc%d.default.svc.cluster.local", rnd.Uint32()), TypeA
		}
		return internal, TypeA
	}
}

// Run asks until ctx ends (the question in progress runs to its end).
func (o Ordinary) Run(ctx context.Context) (OrdinaryStats, error) {
	if err := MustLoopback(o.Server); err != nil {
		return OrdinaryStats{}, err
	}
	if o.Workers <= 0 || o.Tries <= 0 || o.TryTimeout <= 0 || o.Question == nil {
		return OrdinaryStats{}, errors.New("ordinary traffic needs workers, tries, a try timeout and questions")
	}
	var mu sync.Mutex
	var st OrdinaryStats
	var wg sync.WaitGroup
	errc := make(chan error, o.Workers)
	for i := 0; i < o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(o.Server))
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
			buf := make([]byte, 4096)
			for ctx.Err() == nil {
				name, qtype := o.Question(rnd)
				tries, why := o.ask(c, rnd, buf, name, qtype)
				mu.Lock()
				st.Asked++
				switch {
				case why != "":
					st.Failed++
					if len(st.Failures) < 10 {
						st.Failures = append(st.Failures, fmt.Sprintf("%s %s: %s", name, typeName(qtype), why))
					}
				case tries > 1:
					st.Answered++
					st.Retried++
				default:
					st.Answered++
				}
				mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(o.Pause):
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return st, <-errc
}

// ask asks one question; it gives the tries used and, if it was not
// answered, why.
func (o Ordinary) ask(c *net.UDPConn, rnd *rand.Rand, buf []byte, name string, qtype uint16) (int, string) {
	why := ""
	for try := 1; try <= o.Tries; try++ {
		id := uint16(rnd.Uint32())
		q, err := buildQueryRD(id, name, qtype)
		if err != nil {
			return try, err.Error()
		}
		if _, err := c.Write(q); err != nil {
			why = err.Error()
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(o.TryTimeout))
		for {
			n, err := c.Read(buf)
			if err != nil {
				why = fmt.Sprintf("no reply in %d tries of %v (%v)", o.Tries, o.TryTimeout, err)
				break
			}
			gotID, rcode, an, ok := replyHeader(buf[:n])
			if !ok || gotID != id {
				continue // a late reply to an earlier try
			}
			if rcode != 0 || an == 0 {
				return try, fmt.Sprintf("%s with %d answers", RcodeName(rcode), an)
			}
			return try, ""
		}
	}
	return o.Tries, why
}

func typeName(t uint16) string {
	switch t {
	case TypeA:
		return "A"
	case TypeTXT:
		return "TXT"
	}
	return fmt.Sprintf("TYPE%d", t)
}
