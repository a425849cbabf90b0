package acmeforward

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"

	"github.com/miekg/dns"
)

// hairpinAnswer writes the answer the core made ready with its verdict for a
// hairpin name with IP targets: the message the core's exchange would have
// built (afwd_classification in ffi/include/acmeforward.h spells it out),
// made here as a dns.Msg so that nothing is packed for the core, parsed,
// packed again and unpacked for WriteMsg. The core decided the records, the
// TTL and the flags; the shim only fills them in. A message the core would
// refuse (a response, another opcode) goes the exchange's way, which refuses
// it with the core's error.
func (a *AcmeForward) hairpinAnswer(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, h hairpinAddrs, c classification) (rc int, err error) {
	if r.Response || r.Opcode != dns.OpcodeQuery {
		return a.forward(ctx, w, r, c)
	}
	q := r.Question[0]
	server := metrics.WithServer(ctx)
	requestCount.WithLabelValues(server, decisionHairpin).Inc()
	start := time.Now()
	defer func() { report(server, decisionHairpin, &q, rc, "-", start) }()
	m := new(dns.Msg)
	m.SetReply(r) // ID, opcode, RD, CD, the question as asked; NOERROR, AA and AD clear
	m.RecursionAvailable = true
	m.Compress = true
	m.Answer = make([]dns.RR, h.n)
	for i := range h.n {
		hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: h.ttl}
		if q.Qtype == dns.TypeA {
			m.Answer[i] = &dns.A{Hdr: hdr, A: net.IP(h.addrs[i][12:16:16]).To4()}
		} else {
			m.Answer[i] = &dns.AAAA{Hdr: hdr, AAAA: net.IP(append([]byte(nil), h.addrs[i][:]...))}
		}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(ednsUDPPayload, opt.Do())
	}
	if err := w.WriteMsg(m); err != nil {
		return dns.RcodeServerFailure, plugin.Error(pluginName, fmt.Errorf("writing reply: %w", err))
	}
	hairpinAnswerCount.WithLabelValues(server).Inc()
	return dns.RcodeSuccess, nil
}
