// Command certmagic-check runs Caddy's certmagic (the release pinned in
// go.mod) against the test world: its exported DNS01Solver, with a libdns
// provider that writes the TXT record at knot by dynamic update, does
// Present, Wait and CleanUp for one domain's DNS-01 challenge, as Caddy's
// ACME issuer calls them; with -directory it obtains certificates from an
// ACME server (pebble) through certmagic's own issuer with that solver.
//
// certmagic's propagation check (Wait) reads the nameservers from
// /etc/resolv.conf (the pod's resolver) unless -resolvers is given (Caddy's
// `resolvers`). Without -resolvers it asks them for the SOA and NS of the
// zone and then asks each NS host, by name on port 53 (resolved by the
// system resolver), for the TXT; with -resolvers it asks the resolvers for
// the TXT. Hence it must run where /etc/resolv.conf is the pod's.
//
// Exit status: 0 when every step passed, 1 with the reason when one did not,
// 2 for bad usage.
package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"
)

func main() {
	domains := flag.String("domains", "", "comma-separated names: the challenge's identifier (Present/Wait), or the names to obtain certificates for (-directory)")
	update := flag.String("update", "", "HOST:PORT of the primary server that takes dynamic updates (knot)")
	resolvers := flag.String("resolvers", "", "comma-separated HOST:PORT list (Caddy's `resolvers`): the TXT is asked of them; empty: certmagic's default, /etc/resolv.conf and the authoritative servers")
	override := flag.String("override-domain", "", "Caddy's `override_domain`: where the TXT is written and checked instead of _acme-challenge.<domain>")
	propagation := flag.Duration("propagation-timeout", 20*time.Second, "DNSManager.PropagationTimeout: how long Wait checks")
	directory := flag.String("directory", "", "ACME directory URL: obtain certificates instead of Present/Wait")
	caCert := flag.String("ca-cert", "", "PEM file of the CA of the ACME server's HTTPS certificate")
	storage := flag.String("storage", "", "certmagic's file storage directory (-directory)")
	verbose := flag.Bool("v", false, "certmagic's debug log to stderr")
	flag.Parse()
	if *domains == "" || *update == "" || flag.NArg() != 0 || (*directory != "" && (*caCert == "" || *storage == "")) {
		fmt.Fprintln(os.Stderr, "usage: certmagic-check -domains NAME[,NAME] -update HOST:PORT [-resolvers H:P,...] [-override-domain NAME] [-propagation-timeout D] [-directory URL -ca-cert FILE -storage DIR] [-v]")
		os.Exit(2)
	}

	logger := zap.NewNop()
	if *verbose {
		cfg := zap.NewDevelopmentConfig()
		cfg.OutputPaths = []string{"stderr"}
		l, err := cfg.Build()
		if err != nil {
			fail("logger: %v", err)
		}
		logger = l
	}

	var custom []string
	check := "authoritative"
	source := "/etc/resolv.conf"
	if *resolvers != "" {
		custom = strings.Split(*resolvers, ",")
		check = "recursive-only"
		source = "-resolvers"
	}
	fmt.Printf("nameservers %s (from %s), check %s\n", strings.Join(certmagic.RecursiveNameservers(custom), ","), source, check)

	solver := &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{
		DNSProvider:        rfc2136Provider{server: *update},
		TTL:                time.Second,
		PropagationTimeout: *propagation,
		Resolvers:          custom,
		OverrideDomain:     *override,
		Logger:             logger,
	}}
	names := strings.Split(*domains, ",")
	if *directory != "" {
		obtain(names, solver, *directory, *caCert, *storage, logger)
		return
	}
	presentWait(names[0], solver)
}

// presentWait solves one made-up challenge for domain: a random key
// authorization, so that no earlier run's record or cached answer can
// satisfy the check.
func presentWait(domain string, solver *certmagic.DNS01Solver) {
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		fail("token: %v", err)
	}
	ch := acme.Challenge{
		Type:             acme.ChallengeTypeDNS01,
		Token:            hex.EncodeToString(token),
		KeyAuthorization: hex.EncodeToString(token) + ".certmagic-check",
		Identifier:       acme.Identifier{Type: "dns", Value: domain},
	}
	name := ch.DNS01TXTRecordName()
	if solver.OverrideDomain != "" {
		name = solver.OverrideDomain
	}
	ctx := context.Background()
	if err := solver.Present(ctx, ch); err != nil {
		fail("Present(%s): %v", name, err)
	}
	fmt.Printf("presented %s. TXT %q\n", name, ch.DNS01KeyAuthorization())
	waitErr := solver.Wait(ctx, ch)
	if err := solver.CleanUp(ctx, ch); err != nil {
		fail("CleanUp(%s): %v", name, err)
	}
	fmt.Printf("cleaned up %s. TXT %q\n", name, ch.DNS01KeyAuthorization())
	if waitErr != nil {
		fail("Wait(%s): %v", name, waitErr)
	}
	fmt.Printf("PASS: Wait found %s. TXT %q\n", name, ch.DNS01KeyAuthorization())
}

// obtain gets a certificate for each name from the ACME server with
// certmagic's ACME issuer, DNS-01 only, and prints the names each one holds.
func obtain(names []string, solver *certmagic.DNS01Solver, directory, caCert, storage string, logger *zap.Logger) {
	pemBytes, err := os.ReadFile(caCert)
	if err != nil {
		fail("%v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		fail("no certificate in %s", caCert)
	}
	var cfg *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cfg, nil },
		Logger:           logger,
	})
	defer cache.Stop()
	cfg = certmagic.New(cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: storage},
		OCSP:    certmagic.OCSPConfig{DisableStapling: true},
		Logger:  logger,
	})
	cfg.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{
		CA:                      directory,
		TestCA:                  directory,
		Email:                   "acme@example.com",
		Agreed:                  true,
		DisableHTTPChallenge:    true,
		DisableTLSALPNChallenge: true,
		DNS01Solver:             solver,
		TrustedRoots:            roots,
		Logger:                  logger,
	})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, name := range names {
		if err := cfg.ObtainCertSync(ctx, name); err != nil {
			fail("ObtainCertSync(%s): %v", name, err)
		}
		cert, err := cfg.CacheManagedCertificate(ctx, name)
		if err != nil {
			fail("CacheManagedCertificate(%s): %v", name, err)
		}
		fmt.Printf("certificate for %s: names %s, issuer %q\n", name, strings.Join(cert.Leaf.DNSNames, ","), cert.Leaf.Issuer.CommonName)
	}
	fmt.Printf("PASS: obtained %s\n", strings.Join(names, ","))
}

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}
