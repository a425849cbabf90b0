package world

// The one place for the servers' configurations, shared by the e2e tests and
// the demo.

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// Zone is a public zone that knot serves with authority. The addresses in it
// are data: TEST-NET-1 (192.0.2.0/24), which nothing ever connects to.
type Zone struct {
	Name     string // "example.com"
	Token    string // TXT at _acme-challenge.<Name>, TTL TokenTTL
	WWWToken string // TXT at _acme-challenge.www.<Name>, TTL WWWTokenTTL
	WWWAddr  string // public A of www.<Name>
}

// TTLs in the public zone files. The tests' max_ttl values sit between them:
// the apex token is capped, the www token is not.
const (
	TokenTTL    = 3600
	WWWTokenTTL = 10
	SOATTL      = 300 // SOA record TTL and SOA MINIMUM: the negative-answer TTL
	NSAddr      = "192.0.2.53"
)

// Challenge names of a zone.
func (z Zone) Challenge() string    { return "_acme-challenge." + z.Name }
func (z Zone) WWWChallenge() string { return "_acme-challenge.www." + z.Name }

// AliasChallenge is a CNAME to WWWChallenge (same zone, so knot answers the
// whole chain).
func (z Zone) AliasChallenge() string { return "_acme-challenge.alias." + z.Name }

// HostRecord is an internal name that dnsmasq answers (split horizon: the
// inside view).
type HostRecord struct {
	Name string
	Addr string
}

// Options says what a world serves and where.
type Options struct {
	// Zones are served by knot (the public authoritative server).
	Zones []Zone
	// Hidden are the zones dnsmasq answers only from its own records
	// (`local=/zone/`): every other name in them is NXDOMAIN inside.
	Hidden []string
	// Hosts are dnsmasq's internal records.
	Hosts []HostRecord
	// KnotAddr and DnsmasqAddr: zero means a fresh address from NewAddr.
	KnotAddr, DnsmasqAddr netip.AddrPort
	// Dir holds configs, zone files, databases and logs; "" means a fresh
	// temporary directory that Stop removes.
	Dir string
}

// The standard test zones: example.com is the one acmeforward lists,
// example.org is hidden by dnsmasq too but not listed.
var (
	ExampleCom = Zone{Name: "example.com", Token: "token-apex-example-com", WWWToken: "token-www-example-com", WWWAddr: "192.0.2.80"}
	ExampleOrg = Zone{Name: "example.org", Token: "token-apex-example-org", WWWToken: "token-www-example-org", WWWAddr: "192.0.2.81"}

	InternalCom = HostRecord{Name: "internal.example.com", Addr: "10.11.12.13"}
	InternalWWW = HostRecord{Name: "www.example.com", Addr: "10.11.12.80"} // the inside view of www
	InternalOrg = HostRecord{Name: "internal.example.org", Addr: "10.11.13.13"}
)

// Standard is the world the e2e tests use.
func Standard() Options {
	return Options{
		Zones:  []Zone{ExampleCom, ExampleOrg},
		Hidden: []string{"example.com", "example.org"},
		Hosts:  []HostRecord{InternalCom, InternalWWW, InternalOrg},
	}
}

// HostTTL is the TTL of dnsmasq's internal records.
const HostTTL = 60

// zoneFile is knot's zone file for z.
func zoneFile(z Zone) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s.\n$TTL %d\n", z.Name, TokenTTL)
	fmt.Fprintf(&b, "@                     %d IN SOA ns1 hostmaster 1 3600 900 604800 %d\n", SOATTL, SOATTL)
	fmt.Fprintf(&b, "@                        IN NS  ns1\n")
	fmt.Fprintf(&b, "ns1                      IN A   %s\n", NSAddr)
	fmt.Fprintf(&b, "www                      IN A   %s\n", z.WWWAddr)
	fmt.Fprintf(&b, "_acme-challenge       %d IN TXT %q\n", TokenTTL, z.Token)
	fmt.Fprintf(&b, "_acme-challenge.www   %d   IN TXT %q\n", WWWTokenTTL, z.WWWToken)
	fmt.Fprintf(&b, "_acme-challenge.alias %d IN CNAME _acme-challenge.www\n", TokenTTL)
	return b.String()
}

// knotConf is knotd's configuration: listen on addr only, everything under
// dir, dynamic updates allowed from 127.0.0.0/8, updates kept in the
// journal (the zone file stays as written).
func knotConf(dir string, addr netip.AddrPort, zones []Zone) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n")
	fmt.Fprintf(&b, "    listen: %s@%d\n", addr.Addr(), addr.Port())
	fmt.Fprintf(&b, "    rundir: %q\n", dir)
	fmt.Fprintf(&b, "    pidfile: %q\n", dir+"/knot.pid")
	if os.Geteuid() == 0 {
		fmt.Fprintf(&b, "    user: root:root\n")
	}
	fmt.Fprintf(&b, "    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n")
	fmt.Fprintf(&b, "control:\n    listen: %q\n", dir+"/knot.sock")
	fmt.Fprintf(&b, "log:\n  - target: stderr\n    any: info\n")
	fmt.Fprintf(&b, "database:\n    storage: %q\n", dir+"/knot-db")
	fmt.Fprintf(&b, "acl:\n  - id: update-from-loopback\n    address: 127.0.0.0/8\n    action: update\n")
	fmt.Fprintf(&b, "template:\n  - id: default\n    storage: %q\n    file: \"%%s.zone\"\n", dir)
	fmt.Fprintf(&b, "    zonefile-sync: -1\n    zonefile-load: difference-no-serial\n    journal-content: all\n    semantic-checks: on\n")
	fmt.Fprintf(&b, "zone:\n")
	for _, z := range zones {
		fmt.Fprintf(&b, "  - domain: %s\n    acl: update-from-loopback\n", z.Name)
	}
	return b.String()
}

// dnsmasqArgs is dnsmasq's command line: no config file, no upstream, no
// /etc/hosts, only the listed internal records, hidden zones answered locally.
func dnsmasqArgs(addr netip.AddrPort, hidden []string, hosts []HostRecord) []string {
	args := []string{
		"dnsmasq",
		"--keep-in-foreground",
		"--conf-file=/dev/null",
		"--no-resolv",
		"--domain-needed",
		"--no-hosts",
		"--bind-interfaces",
		"--listen-address=" + addr.Addr().String(),
		fmt.Sprintf("--port=%d", addr.Port()),
		"--pid-file=",
		"--log-queries",
		"--log-facility=-",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	for _, z := range hidden {
		args = append(args, "--local=/"+z+"/")
	}
	for _, h := range hosts {
		args = append(args, fmt.Sprintf("--host-record=%s,%s,%d", h.Name, h.Addr, HostTTL))
	}
	return args
}
