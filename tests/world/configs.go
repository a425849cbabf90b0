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
	Token    string // TXT at _acme-challenge.<Name>, TTL TokenTTL ("": none)
	WWWToken string // TXT at _acme-challenge.www.<Name>, TTL WWWTokenTTL ("": none)
	WWWAddr  string // public A of www.<Name> ("": none)

	// NSAtKnot makes ns1.<Name>, the zone's NS, resolve to knot's own
	// address (instead of NSAddr), so that clients that find the zone's
	// nameservers and ask them directly (cert-manager's default check, lego)
	// reach knot. Such clients always use port 53: give knot a KnotAddr on
	// port 53 (NewAddrPort).
	NSAtKnot bool
	// WWWChallengeCNAME, when set, makes _acme-challenge.www.<Name> a CNAME
	// to this name (absolute, without the trailing dot; usually in another
	// zone: the delegated challenge) instead of the WWWToken TXT.
	WWWChallengeCNAME string
	// Extra are more zone-file lines, relative to the zone's $ORIGIN.
	Extra []string
	// NSTTL is the TTL of the apex NS RRset (0: the zone's default,
	// TokenTTL). A short one makes the prefetch refresh the zone sooner.
	NSTTL int
	// Notify are the zone's secondaries: knot sends each a NOTIFY (from
	// its own address) when the zone changes, e.g. after UpdateTXT. Every
	// zone may be transferred (AXFR, IXFR) from 127.0.0.0/8.
	Notify []netip.AddrPort
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
	Name  string
	Addr  string
	Addr6 string // its AAAA ("": none)
}

// InternalTXT is a TXT record that dnsmasq answers (--txt-record). Text is
// one string, without commas (dnsmasq splits strings there) or quotes (on its
// command line they are kept as data).
type InternalTXT struct {
	Name, Text string
}

// InternalMX is an MX record that dnsmasq answers (--mx-host).
type InternalMX struct {
	Name, Exchange string
	Pref           int
}

// Options says what a world serves and where.
type Options struct {
	// Zones are served by knot (the public authoritative server).
	Zones []Zone
	// Hidden are the zones dnsmasq answers only from its own records
	// (`local=/zone/`): every other name in them is NXDOMAIN inside.
	Hidden []string
	// Hosts are dnsmasq's internal records; TXT and MX more of them.
	Hosts []HostRecord
	TXT   []InternalTXT
	MX    []InternalMX
	// InternalRecursion makes dnsmasq send every name outside Hidden to an
	// unbound of the world (World.InternalResolver, no cache), as a real
	// internal server resolves public names and hides only its own zones.
	// Without it dnsmasq answers REFUSED for every such name.
	InternalRecursion bool
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

// zoneFile is knot's zone file for z; knot is knot's own address (for
// NSAtKnot).
func zoneFile(z Zone, knot netip.Addr) string {
	ns := NSAddr
	if z.NSAtKnot {
		ns = knot.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s.\n$TTL %d\n", z.Name, TokenTTL)
	fmt.Fprintf(&b, "@                     %d IN SOA ns1 hostmaster 1 3600 900 604800 %d\n", SOATTL, SOATTL)
	if z.NSTTL > 0 {
		fmt.Fprintf(&b, "@                     %d IN NS  ns1\n", z.NSTTL)
	} else {
		fmt.Fprintf(&b, "@                        IN NS  ns1\n")
	}
	fmt.Fprintf(&b, "ns1                      IN A   %s\n", ns)
	if z.WWWAddr != "" {
		fmt.Fprintf(&b, "www                      IN A   %s\n", z.WWWAddr)
	}
	if z.Token != "" {
		fmt.Fprintf(&b, "_acme-challenge       %d IN TXT %q\n", TokenTTL, z.Token)
	}
	switch {
	case z.WWWChallengeCNAME != "":
		fmt.Fprintf(&b, "_acme-challenge.www   %d   IN CNAME %s.\n", WWWTokenTTL, z.WWWChallengeCNAME)
	case z.WWWToken != "":
		fmt.Fprintf(&b, "_acme-challenge.www   %d   IN TXT %q\n", WWWTokenTTL, z.WWWToken)
	}
	if z.WWWChallengeCNAME != "" || z.WWWToken != "" {
		fmt.Fprintf(&b, "_acme-challenge.alias %d IN CNAME _acme-challenge.www\n", TokenTTL)
	}
	for _, l := range z.Extra {
		fmt.Fprintf(&b, "%s\n", l)
	}
	return b.String()
}

// knotConf is knotd's configuration: listen on addr only, everything under
// dir, dynamic updates and transfers allowed from 127.0.0.0/8, updates kept
// in the journal (the zone file stays as written), NOTIFY sent from addr to
// each zone's Notify addresses.
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
	fmt.Fprintf(&b, "  - id: transfer-to-loopback\n    address: 127.0.0.0/8\n    action: transfer\n")
	var remotes strings.Builder
	notify := make([][]string, len(zones))
	for i, z := range zones {
		for j, to := range z.Notify {
			id := fmt.Sprintf("notify-%d-%d", i, j)
			fmt.Fprintf(&remotes, "  - id: %s\n    address: %s@%d\n    via: %s\n", id, to.Addr(), to.Port(), addr.Addr())
			notify[i] = append(notify[i], id)
		}
	}
	if remotes.Len() > 0 {
		fmt.Fprintf(&b, "remote:\n%s", remotes.String())
	}
	fmt.Fprintf(&b, "template:\n  - id: default\n    storage: %q\n    file: \"%%s.zone\"\n", dir)
	fmt.Fprintf(&b, "    zonefile-sync: -1\n    zonefile-load: difference-no-serial\n    journal-content: all\n    semantic-checks: on\n")
	fmt.Fprintf(&b, "zone:\n")
	for i, z := range zones {
		fmt.Fprintf(&b, "  - domain: %s\n    acl: [update-from-loopback, transfer-to-loopback]\n", z.Name)
		if len(notify[i]) > 0 {
			fmt.Fprintf(&b, "    notify: [%s]\n", strings.Join(notify[i], ", "))
		}
	}
	return b.String()
}

// dnsmasqArgs is dnsmasq's command line: no config file, no upstream unless
// upstream is valid (then every name outside the hidden zones goes there, and
// nothing is cached), no /etc/hosts, only the listed internal records, hidden
// zones answered locally.
func dnsmasqArgs(addr netip.AddrPort, opts Options, upstream netip.AddrPort) []string {
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
	if upstream.IsValid() {
		args = append(args, fmt.Sprintf("--server=%s#%d", upstream.Addr(), upstream.Port()), "--cache-size=0")
	}
	for _, z := range opts.Hidden {
		args = append(args, "--local=/"+z+"/")
	}
	for _, h := range opts.Hosts {
		addrs := h.Addr
		if h.Addr6 != "" {
			addrs += "," + h.Addr6
		}
		args = append(args, fmt.Sprintf("--host-record=%s,%s,%d", h.Name, addrs, HostTTL))
	}
	for _, r := range opts.TXT {
		args = append(args, fmt.Sprintf("--txt-record=%s,%s", r.Name, r.Text))
	}
	for _, r := range opts.MX {
		args = append(args, fmt.Sprintf("--mx-host=%s,%s,%d", r.Name, r.Exchange, r.Pref))
	}
	return args
}

// unboundConf is unbound's configuration: a caching recursive resolver (the
// public resolvers an ACME server or a cluster's `to` uses) that knows only
// the given zones, each as a stub zone at knot. It listens on addr only,
// sends only from 127.0.0.1, and refuses every other name, so it never
// contacts a root server. No DNSSEC (iterator only), no control socket.
// noCache: nothing is kept (cache-max-ttl and cache-max-negative-ttl 0).
func unboundConf(dir string, addr, knot netip.AddrPort, zones []string, noCache bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n")
	fmt.Fprintf(&b, "    interface: %s@%d\n    port: %d\n", addr.Addr(), addr.Port(), addr.Port())
	fmt.Fprintf(&b, "    do-ip4: yes\n    do-ip6: no\n    do-udp: yes\n    do-tcp: yes\n")
	fmt.Fprintf(&b, "    outgoing-interface: 127.0.0.1\n    do-not-query-localhost: no\n")
	fmt.Fprintf(&b, "    access-control: 127.0.0.0/8 allow\n")
	fmt.Fprintf(&b, "    username: \"\"\n    chroot: \"\"\n    directory: %q\n    pidfile: \"\"\n", dir)
	fmt.Fprintf(&b, "    use-syslog: no\n    logfile: \"\"\n    verbosity: 1\n    log-queries: yes\n    log-replies: yes\n")
	fmt.Fprintf(&b, "    num-threads: 1\n    so-reuseport: no\n    module-config: \"iterator\"\n")
	fmt.Fprintf(&b, "    qname-minimisation: no\n    root-hints: \"\"\n")
	if noCache {
		fmt.Fprintf(&b, "    cache-max-ttl: 0\n    cache-max-negative-ttl: 0\n")
	}
	fmt.Fprintf(&b, "    local-zone: \".\" refuse\n")
	for _, z := range zones {
		fmt.Fprintf(&b, "    local-zone: \"%s.\" transparent\n", z)
	}
	fmt.Fprintf(&b, "remote-control:\n    control-enable: no\n")
	for _, z := range zones {
		fmt.Fprintf(&b, "stub-zone:\n    name: \"%s.\"\n    stub-addr: %s@%d\n", z, knot.Addr(), knot.Port())
	}
	return b.String()
}

// pebbleConf is pebble's configuration file (pebble 2.4.0's keys).
func pebbleConf(listen, management netip.AddrPort, cert, key string) string {
	return fmt.Sprintf(`{
  "pebble": {
    "listenAddress": %q,
    "managementListenAddress": %q,
    "certificate": %q,
    "privateKey": %q,
    "httpPort": 5002,
    "tlsPort": 5001,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
`, listen.String(), management.String(), cert, key)
}

// PebbleEnv is pebble's environment: no random validation sleep, no
// rejected nonces, no authorization reuse (each test's orders validate).
var PebbleEnv = []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}

// Acme is one acmeforward block of a test Corefile. Zero values leave an
// option out (the plugin's default), except MaxTTL: < 0 leaves it out.
type Acme struct {
	Zones        []string
	To           []netip.AddrPort
	Timeout      string // "500ms", ...
	MaxTTL       int
	Delegated    []string
	UpstreamMode string
	Discovery    string // "on" or "off"
	MaxLearned   int
	Hairpins     []string // the arguments of each hairpin line
	Protect      []string // zones never forwarded nor learned, beyond the defaults
	AllowNS      []string // CIDRs whose nameserver addresses authoritative mode may use
	// MaxConcurrent bounds the exchanges in flight (0: the default).
	MaxConcurrent int
	// MaxTime is the overall limit of one exchange ("4s", ...; "": the default).
	MaxTime string
	// Labels replace the default challenge labels (nil: the defaults).
	Labels []string
	// PublicHosts are nameserver hosts given their public answer although
	// the internal view knows them.
	PublicHosts []string
}

// String is the block, indented for a server block.
func (a Acme) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "    acmeforward")
	for _, z := range a.Zones {
		fmt.Fprintf(&b, " %s", z)
	}
	fmt.Fprintf(&b, " {\n        to")
	for _, u := range a.To {
		fmt.Fprintf(&b, " %s", u)
	}
	fmt.Fprintf(&b, "\n")
	if a.Timeout != "" {
		fmt.Fprintf(&b, "        timeout %s\n", a.Timeout)
	}
	if a.MaxTTL >= 0 {
		fmt.Fprintf(&b, "        max_ttl %d\n", a.MaxTTL)
	}
	if a.MaxConcurrent > 0 {
		fmt.Fprintf(&b, "        max_concurrent %d\n", a.MaxConcurrent)
	}
	if a.MaxTime != "" {
		fmt.Fprintf(&b, "        max_time %s\n", a.MaxTime)
	}
	if len(a.Delegated) > 0 {
		fmt.Fprintf(&b, "        delegated %s\n", strings.Join(a.Delegated, " "))
	}
	if a.UpstreamMode != "" {
		fmt.Fprintf(&b, "        upstream_mode %s\n", a.UpstreamMode)
	}
	if a.Discovery != "" {
		fmt.Fprintf(&b, "        discovery %s\n", a.Discovery)
	}
	if a.MaxLearned > 0 {
		fmt.Fprintf(&b, "        max_learned %d\n", a.MaxLearned)
	}
	for _, h := range a.Hairpins {
		fmt.Fprintf(&b, "        hairpin %s\n", h)
	}
	if len(a.Protect) > 0 {
		fmt.Fprintf(&b, "        protect %s\n", strings.Join(a.Protect, " "))
	}
	if len(a.AllowNS) > 0 {
		fmt.Fprintf(&b, "        allow_ns %s\n", strings.Join(a.AllowNS, " "))
	}
	if len(a.Labels) > 0 {
		fmt.Fprintf(&b, "        labels %s\n", strings.Join(a.Labels, " "))
	}
	if len(a.PublicHosts) > 0 {
		fmt.Fprintf(&b, "        public_hosts %s\n", strings.Join(a.PublicHosts, " "))
	}
	fmt.Fprintf(&b, "    }\n")
	return b.String()
}

// ClusterCorefile is a cluster's server block in miniature: listen on
// listen, errors and log, block (an acmeforward block, or "" for none), and
// everything through `cache 30` to upstream (the internal server). The
// plugin order is CoreDNS's, not the order in the file.
func ClusterCorefile(listen, upstream netip.AddrPort, block string) string {
	return fmt.Sprintf(".:%d {\n    bind %s\n    errors\n    log\n%s    cache 30\n    forward . %s\n}\n",
		listen.Port(), listen.Addr(), block, upstream)
}
