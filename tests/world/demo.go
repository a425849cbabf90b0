package world

import "net/netip"

// The demo world sits on fixed loopback addresses that examples/Corefile
// names. High ports: the demo needs no root.
var (
	DemoCoreDNS = netip.MustParseAddrPort("127.0.0.1:1053")   // `.:1053 { bind 127.0.0.1 ... }`
	DemoKnot    = netip.MustParseAddrPort("127.0.53.1:10053") // acmeforward's `to`
	DemoDnsmasq = netip.MustParseAddrPort("127.0.53.2:10053") // `forward .`
)

// DemoZone is the demo's public zone.
var DemoZone = Zone{Name: "example.com", Token: "demo-token-123", WWWToken: "demo-token-www-456", WWWAddr: "192.0.2.80"}

// DemoOptions is the demo world: knot serves example.com with the token,
// dnsmasq hides example.com and answers internal.example.com and (its inside
// view of) www.example.com.
func DemoOptions() Options {
	return Options{
		Zones:       []Zone{DemoZone},
		Hidden:      []string{"example.com"},
		Hosts:       []HostRecord{InternalCom, InternalWWW},
		KnotAddr:    DemoKnot,
		DnsmasqAddr: DemoDnsmasq,
	}
}
