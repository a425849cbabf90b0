// Command traefik-lego4-client obtains a certificate with lego v4 used as a
// library (github.com/go-acme/lego/v4 at the release pinned in go.mod), with
// the DNS-01 options Traefik's ACME provider sets from its
// certificatesResolvers.<name>.acme.dnsChallenge configuration
// (pkg/provider/acme/provider.go):
//
//	resolvers                     dns01.AddRecursiveNameservers    (-resolvers)
//	propagation.requireAllRNS     dns01.RecursiveNSsPropagationRequirement (-require-all-rns)
//	propagation.disableANSChecks  dns01.DisableAuthoritativeNssPropagationRequirement (-disable-ans)
//	propagation.delayBeforeChecks dns01.PropagationWait(delay, disableChecks)
//
// With requireAllRNS lego asks every resolver for the TXT record with the
// RD bit clear (dns01.checkNameserversPropagation sends its questions
// non-recursive), as it asks the authoritative servers.
//
// The DNS provider is lego's exec provider (Traefik's `provider: exec`),
// configured by EXEC_PATH and friends from the environment. The certificate
// and key go to PATH/certificates/DOMAIN.crt and .key ('*' written '_').
// Exit status 0 when the certificate was obtained, 1 otherwise, 2 for bad
// usage.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/lego"
	"github.com/go-acme/lego/v4/providers/dns/exec"
	"github.com/go-acme/lego/v4/registration"
)

type user struct {
	email string
	reg   *registration.Resource
	key   crypto.PrivateKey
}

func (u *user) GetEmail() string                        { return u.email }
func (u *user) GetRegistration() *registration.Resource { return u.reg }
func (u *user) GetPrivateKey() crypto.PrivateKey        { return u.key }

type domainList []string

func (d *domainList) String() string     { return strings.Join(*d, ",") }
func (d *domainList) Set(s string) error { *d = append(*d, s); return nil }

func main() {
	server := flag.String("server", "", "ACME directory URL (caServer)")
	email := flag.String("email", "", "account e-mail")
	path := flag.String("path", "", "where the certificates go")
	resolvers := flag.String("resolvers", "", "comma-separated HOST:PORT list (dnsChallenge.resolvers); empty: /etc/resolv.conf")
	requireAllRNS := flag.Bool("require-all-rns", false, "dnsChallenge.propagation.requireAllRNS")
	disableANS := flag.Bool("disable-ans", false, "dnsChallenge.propagation.disableANSChecks")
	var domains domainList
	flag.Var(&domains, "d", "a domain (repeat)")
	flag.Parse()
	if *server == "" || *path == "" || len(domains) == 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*server, *email, *path, *resolvers, *requireAllRNS, *disableANS, domains); err != nil {
		fmt.Fprintln(os.Stderr, "traefik-lego4-client:", err)
		os.Exit(1)
	}
}

func run(server, email, path, resolvers string, requireAllRNS, disableANS bool, domains []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	u := &user{email: email, key: key}
	cfg := lego.NewConfig(u)
	cfg.CADirURL = server
	client, err := lego.NewClient(cfg)
	if err != nil {
		return err
	}
	reg, err := client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	u.reg = reg
	fmt.Println("account:", reg.URI)

	provider, err := exec.NewDNSProvider()
	if err != nil {
		return err
	}
	// In the order Traefik appends them.
	var opts []dns01.ChallengeOption
	if resolvers != "" {
		opts = append(opts, dns01.AddRecursiveNameservers(strings.Split(resolvers, ",")))
	}
	if requireAllRNS {
		opts = append(opts, dns01.RecursiveNSsPropagationRequirement())
	}
	if disableANS {
		opts = append(opts, dns01.DisableAuthoritativeNssPropagationRequirement())
	}
	opts = append(opts, dns01.PropagationWait(0, false))
	if err := client.Challenge.SetDNS01Provider(provider, opts...); err != nil {
		return err
	}

	res, err := client.Certificate.Obtain(certificate.ObtainRequest{Domains: domains, Bundle: true})
	if err != nil {
		return fmt.Errorf("obtain: %w", err)
	}
	dir := filepath.Join(path, "certificates")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	base := filepath.Join(dir, strings.ReplaceAll(domains[0], "*", "_"))
	if err := os.WriteFile(base+".crt", res.Certificate, 0o600); err != nil {
		return err
	}
	return os.WriteFile(base+".key", res.PrivateKey, 0o600)
}
