package main

import (
	"context"
	"fmt"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// rfc2136Provider is a libdns provider (the RecordAppender and
// RecordDeleter certmagic's DNS01Solver needs) that changes TXT records at
// one primary server by DNS dynamic update (RFC 2136), without TSIG: the
// test's knot accepts updates from loopback by address. The module
// github.com/libdns/rfc2136 is not on the Go module proxy this project can
// reach, hence this one.
type rfc2136Provider struct {
	server string // HOST:PORT of the primary
}

func (p rfc2136Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.update(ctx, zone, recs, (*dns.Msg).Insert)
}

func (p rfc2136Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.update(ctx, zone, recs, (*dns.Msg).Remove)
}

// update sends one UPDATE for zone that inserts or removes recs (TXT only:
// what a DNS-01 solver writes) and returns them as libdns.TXT.
func (p rfc2136Provider) update(ctx context.Context, zone string, recs []libdns.Record, op func(*dns.Msg, []dns.RR)) ([]libdns.Record, error) {
	zone = dns.Fqdn(zone)
	m := new(dns.Msg)
	m.SetUpdate(zone)
	var rrs []dns.RR
	var done []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		if rr.Type != "TXT" {
			return nil, fmt.Errorf("rfc2136 provider: %s records are not supported", rr.Type)
		}
		ttl := uint32(rr.TTL / time.Second)
		if ttl == 0 {
			ttl = 1
		}
		rrs = append(rrs, &dns.TXT{
			Hdr: dns.RR_Header{Name: libdns.AbsoluteName(rr.Name, zone), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl},
			Txt: splitTXT(rr.Data),
		})
		done = append(done, libdns.TXT{Name: rr.Name, TTL: time.Duration(ttl) * time.Second, Text: rr.Data})
	}
	op(m, rrs)
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	in, _, err := c.ExchangeContext(ctx, m, p.server)
	if err != nil {
		return nil, fmt.Errorf("rfc2136 update of %s at %s: %w", zone, p.server, err)
	}
	if in.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rfc2136 update of %s at %s: %s", zone, p.server, dns.RcodeToString[in.Rcode])
	}
	return done, nil
}

// splitTXT cuts a TXT value into character-strings of at most 255 octets.
func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}
