// Command lego5-client obtains a certificate with lego v5 used as a library
// (github.com/go-acme/lego/v5 at the release pinned in go.mod), wired as
// lego v5's own CLI wires it (cmd/setup_challenges.go: setupDNS and
// setupDNSPersist). lego's CLI itself cannot be built here: its logger
// imports a module the Go module proxy does not serve.
//
// DNS-01 (the default) uses lego's exec provider, as `lego --dns exec`
// (EXEC_PATH and friends from the environment). The flags are the CLI's:
//
//	-resolvers          --dns.resolvers
//	-dns-timeout        --dns.timeout
//	-disable-ans        --dns.propagation.disable-ans (only the resolvers)
//	-disable-rns        --dns.propagation.disable-rns
//	-tcp-only           LEGO_EXPERIMENTAL_DNS_TCP_ONLY=true (dns01/dnspersist01 Options.TCPOnly)
//
// -persist solves dns-persist-01 instead, as `lego --dns-persist`: lego's
// manual persist provider prints the record to create and waits for Enter on
// its standard input; this program plays the person at the keyboard: it
// hands the record to `$EXEC_PATH present FQDN VALUE` and presses Enter.
//
// The certificate's key is EC256 (the CLI's default --key-type). The
// certificate and its key go to PATH/certificates/DOMAIN.crt and .key, '*'
// in DOMAIN written '_', as the CLI names them. Exit status 0 when the
// certificate was obtained, 1 otherwise, 2 for bad usage.
package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/challenge/dnspersist01"
	"github.com/go-acme/lego/v5/lego"
	legoexec "github.com/go-acme/lego/v5/providers/dns/exec"
	"github.com/go-acme/lego/v5/registration"
)

type user struct {
	email string
	reg   *acme.ExtendedAccount
	key   crypto.Signer
}

func (u *user) GetEmail() string                       { return u.email }
func (u *user) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *user) GetPrivateKey() crypto.Signer           { return u.key }

type domainList []string

func (d *domainList) String() string     { return strings.Join(*d, ",") }
func (d *domainList) Set(s string) error { *d = append(*d, s); return nil }

func main() {
	server := flag.String("server", "", "ACME directory URL")
	email := flag.String("email", "", "account e-mail")
	path := flag.String("path", "", "where the certificates go")
	resolvers := flag.String("resolvers", "", "comma-separated HOST:PORT list; empty: /etc/resolv.conf")
	dnsTimeout := flag.Int("dns-timeout", 0, "DNS timeout in seconds (0: lego's default)")
	disableANS := flag.Bool("disable-ans", false, "no propagation check at the authoritative nameservers")
	disableRNS := flag.Bool("disable-rns", false, "no propagation check at the recursive nameservers")
	tcpOnly := flag.Bool("tcp-only", false, "every DNS question over TCP")
	persist := flag.Bool("persist", false, "solve dns-persist-01 instead of dns-01")
	var domains domainList
	flag.Var(&domains, "d", "a domain (repeat)")
	flag.Parse()
	if *server == "" || *path == "" || len(domains) == 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*server, *email, *path, *resolvers, *dnsTimeout, *disableANS, *disableRNS, *tcpOnly, *persist, domains); err != nil {
		fmt.Fprintln(os.Stderr, "lego5-client:", err)
		os.Exit(1)
	}
}

func run(server, email, path, resolvers string, dnsTimeout int, disableANS, disableRNS, tcpOnly, persist bool, domains []string) error {
	ctx := context.Background()
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
	reg, err := client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	u.reg = reg
	fmt.Println("account:", reg.Location)

	var nameservers []string
	if resolvers != "" {
		nameservers = strings.Split(resolvers, ",")
	}
	timeout := time.Duration(dnsTimeout) * time.Second
	if persist {
		opts := dnspersist01.NewOptions()
		opts.RecursiveNameservers = nameservers
		opts.Timeout = timeout
		opts.TCPOnly = opts.TCPOnly || tcpOnly
		dnspersist01.SetDefaultClient(dnspersist01.NewClient(opts))
		if err := client.Challenge.SetDNSPersist01(
			dnspersist01.CondOptions(disableANS, dnspersist01.DisableAuthoritativeNssPropagationRequirement()),
			dnspersist01.CondOptions(disableRNS, dnspersist01.DisableRecursiveNSsPropagationRequirement()),
		); err != nil {
			return err
		}
		stop, err := answerManualProvider()
		if err != nil {
			return err
		}
		defer stop()
	} else {
		provider, err := legoexec.NewDNSProvider()
		if err != nil {
			return err
		}
		opts := dns01.NewOptions()
		opts.RecursiveNameservers = nameservers
		opts.Timeout = timeout
		opts.TCPOnly = opts.TCPOnly || tcpOnly
		dns01.SetDefaultClient(dns01.NewClient(opts))
		if err := client.Challenge.SetDNS01Provider(provider,
			dns01.CondOptions(disableANS, dns01.DisableAuthoritativeNssPropagationRequirement()),
			dns01.CondOptions(disableRNS, dns01.DisableRecursiveNSsPropagationRequirement()),
		); err != nil {
			return err
		}
	}

	res, err := client.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: domains, Bundle: true, KeyType: certcrypto.EC256})
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

// The manual persist provider's prompt: `FQDN IN TXT "VALUE"`, the value
// possibly split in quoted strings of 255 octets.
var persistPrompt = regexp.MustCompile(`^(\S+) IN TXT (".*")$`)

// answerManualProvider stands in for the person lego's manual dns-persist-01
// provider talks to: it reads what lego prints on standard output, and for
// each record to create runs `$EXEC_PATH present FQDN VALUE` and then
// presses Enter on lego's standard input. Everything else lego prints is
// passed on. stop restores the standard streams.
func answerManualProvider() (stop func(), err error) {
	script := os.Getenv("EXEC_PATH")
	if script == "" {
		return nil, fmt.Errorf("-persist needs EXEC_PATH")
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	realOut, realIn := os.Stdout, os.Stdin
	os.Stdout, os.Stdin = outW, inR
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(realOut, line)
			m := persistPrompt.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			value, err := joinQuoted(m[2])
			if err == nil {
				var out []byte
				out, err = osexec(script, "present", m[1], value)
				fmt.Fprintf(realOut, "%s", out)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "lego5-client: creating the persist record:", err)
				// No Enter: lego's read fails and it gives up.
				_ = inW.Close()
				continue
			}
			_, _ = inW.Write([]byte("\n"))
		}
	}()
	return func() {
		os.Stdout, os.Stdin = realOut, realIn
		_ = outW.Close()
		<-done
		_ = inW.Close()
	}, nil
}

// joinQuoted joins `"a" "b"` (Go-quoted strings, as lego prints them).
func joinQuoted(s string) (string, error) {
	var b strings.Builder
	for rest := strings.TrimSpace(s); rest != ""; rest = strings.TrimSpace(rest) {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return "", fmt.Errorf("%q: %w", s, err)
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		rest = rest[len(q):]
	}
	return b.String(), nil
}

func osexec(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
