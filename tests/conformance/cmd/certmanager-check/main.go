// Command certmanager-check runs cert-manager's own DNS-01 self check once,
// with cert-manager's code (github.com/cert-manager/cert-manager
// pkg/issuer/acme/dns/util at the release pinned in go.mod), the way the
// cert-manager controller calls it for a Challenge:
//
//	fqdn, _ := util.DNS01LookupFQDN(ctx, domain, false, nameservers...)
//	ok, err := util.PreCheckDNS(ctx, fqdn, key, nameservers, useAuthoritative)
//
// The nameservers are, as in the controller, those of --dns01-recursive-nameservers
// (-nameservers here) or else util.RecursiveNameservers, read from
// /etc/resolv.conf when the process starts (the pod's resolver). The default
// check is the authoritative one (SOA walk, NS of the apex, the nameserver
// hosts resolved by the system resolver, TXT to each of them on port 53);
// -recursive-only is --dns01-recursive-nameservers-only (TXT to the
// nameservers).
//
// Exit status: 0 when the check passes, 1 with the reason when it does not
// (record not found, or an error), 2 for bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

func main() {
	domain := flag.String("domain", "", "the challenge's DNS name (Challenge.spec.dnsName), e.g. example.com for _acme-challenge.example.com")
	key := flag.String("key", "", "the expected TXT value (Challenge.spec.key)")
	nameservers := flag.String("nameservers", "", "comma-separated HOST:PORT list (--dns01-recursive-nameservers); empty: the ones in /etc/resolv.conf")
	recursiveOnly := flag.Bool("recursive-only", false, "--dns01-recursive-nameservers-only: ask the TXT of the nameservers, not of the authoritative servers")
	dnsTimeout := flag.Duration("dns-timeout", 2*time.Second, "util.DNSTimeout: each DNS exchange")
	timeout := flag.Duration("timeout", 20*time.Second, "the whole check")
	verbose := flag.Bool("v", false, "log cert-manager's debug lines (the lookups it makes) to stderr")
	flag.Parse()
	if *domain == "" || *key == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: certmanager-check -domain NAME -key VALUE [-nameservers H:P,...] [-recursive-only] [-dns-timeout D] [-timeout D] [-v]")
		os.Exit(2)
	}

	ns := util.RecursiveNameservers
	source := "/etc/resolv.conf"
	if *nameservers != "" {
		ns = strings.Split(*nameservers, ",")
		source = "-nameservers"
	}
	util.DNSTimeout = *dnsTimeout
	useAuthoritative := !*recursiveOnly

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	logger := logr.Discard()
	if *verbose {
		logger = funcr.New(func(prefix, args string) {
			fmt.Fprintf(os.Stderr, "cert-manager: %s %s\n", prefix, args)
		}, funcr.Options{Verbosity: logf.DebugLevel})
	}
	ctx = logf.NewContext(ctx, logger)

	mode := "authoritative"
	if !useAuthoritative {
		mode = "recursive-only"
	}
	fmt.Printf("nameservers %s (from %s), mode %s\n", strings.Join(ns, ","), source, mode)

	fqdn, err := util.DNS01LookupFQDN(ctx, *domain, false, ns...)
	if err != nil {
		fail("DNS01LookupFQDN(%s): %v", *domain, err)
	}
	ok, err := util.PreCheckDNS(ctx, fqdn, *key, ns, useAuthoritative)
	if err != nil {
		fail("PreCheckDNS(%s): %v", fqdn, err)
	}
	if !ok {
		// The controller's own message for this case.
		fail("DNS record for %q not yet propagated", *domain)
	}
	fmt.Printf("PASS: %s has TXT %q (%s)\n", fqdn, *key, mode)
}

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}
