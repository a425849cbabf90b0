package main

// The hand-written parts of docs/CLIENTS.md: what the query logs cannot
// show. Each says where it comes from.

// elsewhereNote is what a client's check sends to servers other than the
// cluster resolver, read from the client's source.
type elsewhereNote struct {
	text, source string
}

// elsewhere is keyed by the client and mode names the conformance tests
// record.
var elsewhere = map[[2]string]elsewhereNote{
	{"cert-manager", "authoritative"}: {
		"TXT of the challenge name (after the CNAMEs) to each authoritative nameserver of its zone: the NS host names on port 53, dialled by name (hence the A/AAAA lookups of them through the cluster resolver), RD set, EDNS0 4096; UDP, TCP on truncation or timeout.",
		"cert-manager v1.21.2, pkg/issuer/acme/dns/util/wait.go: checkDNSPropagation, lookupNameservers, checkAuthoritativeNss, dnsQuery",
	},
	{"cert-manager", "recursive-only"}: {
		"Nothing: with --dns01-recursive-nameservers-only the TXT is asked of the resolvers only.",
		"cert-manager v1.21.2, pkg/issuer/acme/dns/util/wait.go: checkDNSPropagation",
	},
	{"lego", "authoritative"}: {
		"TXT of the challenge name (after the CNAME) to each authoritative nameserver: the NS host names on port 53, dialled by name (hence the A/AAAA lookups through the system resolver), RD clear.",
		"lego v4, challenge/dns01: checkDNSPropagation, checkAuthoritativeNss (dnsQuery(..., recursive=false))",
	},
	{"lego", "recursive-only"}: {
		"Nothing: --dns.disable-cp stops after the TXT lookup through the resolvers.",
		"lego v4, challenge/dns01: checkDNSPropagation (requireCompletePropagation)",
	},
	{"lego-v5.6.0", "default"}: {
		"TXT of the challenge name (after the CNAMEs) to each authoritative nameserver: the NS host names on port 53, dialled by name (hence the A/AAAA lookups through the system resolver), RD clear; UDP, TCP on truncation.",
		"lego v5.6.0, challenge/dns01: checkDNSPropagation, checkAuthoritativeNameserversPropagation (checkNameserversPropagationCustom(..., recursive=false))",
	},
	{"lego-v5.6.0", "recursive-only"}: {
		"Nothing: --dns.propagation.disable-ans leaves out the authoritative nameservers.",
		"lego v5.6.0, challenge/dns01: checkDNSPropagation (requireAuthoritativeNssPropagation false)",
	},
	{"lego-v5.6.0", "tcp-only"}: {
		"As the default, over TCP only (dns01.Options.TCPOnly, LEGO_EXPERIMENTAL_DNS_TCP_ONLY); the nameservers' host names are resolved by the system resolver, over UDP.",
		"lego v5.6.0, challenge/internal/client.go (tcpOnly) and challenge/dns01: checkAuthoritativeNameserversPropagation",
	},
	{"lego-v5.6.0", "dns-persist-01"}: {
		"TXT of _validation-persist.<name> (after the CNAMEs) to each authoritative nameserver, dialled by name on port 53, RD clear.",
		"lego v5.6.0, challenge/dnspersist01: checkDNSPropagation, checkAuthoritativeNameserversPropagation",
	},
	{"traefik-lego-v4.35.2", "requireAllRNS"}: {
		"TXT of the challenge name to each authoritative nameserver, dialled by name on port 53, RD clear; the TXT to the resolvers themselves also goes with RD clear (the rd=0 rows above).",
		"lego v4.35.2, challenge/dns01: checkDNSPropagation, checkNameserversPropagationCustom; Traefik pkg/provider/acme/provider.go: propagation.requireAllRNS",
	},
	{"traefik-lego-v4.35.2", "requireAllRNS+disableANSChecks"}: {
		"Nothing: disableANSChecks leaves out the authoritative nameservers; the resolvers get the TXT with RD set and with RD clear.",
		"lego v4.35.2, challenge/dns01: DisableAuthoritativeNssPropagationRequirement, RecursiveNSsPropagationRequirement; Traefik pkg/provider/acme/provider.go",
	},
	{"certmagic", "authoritative"}: {
		"TXT of the challenge name (after one CNAME, from its first TXT lookup) to the NS hosts of its zone in the NS answer's order, by name on port 53 (resolved by the system resolver, i.e. /etc/resolv.conf: the A/AAAA lookups), RD set, EDNS0 1232: it passes at the first that has the value, and tries again later at the first NXDOMAIN or SERVFAIL. UDP, TCP on truncation or timeout. The zone and NS come from the nameservers of /etc/resolv.conf (the SOA and NS lookups).",
		"certmagic v0.25.6, dnsutil.go: checkDNSPropagation, lookupNameservers, checkAuthoritativeNss, sendDNSQuery",
	},
	{"certmagic", "recursive-only"}: {
		"Nothing: with `resolvers` (DNSManager.Resolvers) the TXT is asked of them, the authoritative servers are not.",
		"certmagic v0.25.6, dnsutil.go: checkDNSPropagation (checkAuthoritativeServers = len(Resolvers) == 0)",
	},
}

// otherClients are the clients the conformance tests do not run: their
// self check makes no lookup of the challenge through the cluster resolver.
const otherClients = `| client | its check | through the cluster resolver | elsewhere | needs acmeforward? | source |
| --- | --- | --- | --- | --- | --- |
| acme.sh, ` + "`--dns dns_*`" + ` hooks | default: waits 20 s, then asks a DNS-over-HTTPS resolver for the TXT every 10 s, up to 20 min | only the A/AAAA of the DoH server's host name (curl or wget resolve it) | the TXT as JSON over HTTPS to the first DoH server that answers: cloudflare-dns.com/dns-query, else dns.google/resolve, dns.alidns.com/resolve, doh.pub/dns-query (a Cloudflare cache purge between tries) | no: the public resolvers see the public view, the cluster's split horizon never answers the TXT. It needs egress to them; where there is none, ` + "`--dnssleep N`" + ` replaces the check by a fixed wait | acme.sh 3.1.4, acme.sh: ` + "`_check_dns_entries`" + `, ` + "`__check_txt`" + `, ` + "`_ns_lookup`" + `, ` + "`_ns_select_doh`" + `, ` + "`_ns_lookup_impl`" + ` (the ` + "`--dnssleep`" + ` branch in ` + "`issue`" + `) |
| certbot, ` + "`certbot-dns-*`" + ` plugins | none: a fixed ` + "`--dns-<plugin>-propagation-seconds`" + ` wait (default 10 s, more in many plugins) after all records are written | nothing for the check | the provider's API; certbot-dns-rfc2136 asks its configured server (an IP address) for the SOA, RD clear, to find the zone | no: nothing is looked up, so the split horizon is never asked; a wait too short fails at the CA, not at a self check | certbot 5.x, certbot/src/certbot/plugins/dns_common.py: ` + "`DNSAuthenticator.perform`" + ` (` + "`sleep(self.conf('propagation-seconds'))`" + `); certbot-dns-rfc2136 ` + "`_RFC2136Client._query_soa`" + ` |
`
