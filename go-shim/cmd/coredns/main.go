// Command coredns is CoreDNS with every default plugin plus acmeforward,
// which runs immediately before cache.
package main

import (
	"fmt"
	"slices"

	_ "github.com/acmeforward/acmeforward/go-shim" // Plug in acmeforward.
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/core/plugin" // Plug in CoreDNS's default plugins.
	"github.com/coredns/coredns/coremain"
)

func init() {
	directives, err := withAcmeforward(dnsserver.Directives)
	if err != nil {
		panic(err)
	}
	if err := dnsserver.SetDirectives(directives); err != nil {
		panic(fmt.Sprintf("acmeforward: setting the plugin order: %v", err))
	}
}

// withAcmeforward returns a copy of directives with "acmeforward" inserted
// immediately before "cache", so it sees every query before a cached or
// internally answered reply can be given. It fails when "cache" is absent.
func withAcmeforward(directives []string) ([]string, error) {
	i := slices.Index(directives, "cache")
	if i < 0 {
		return nil, fmt.Errorf("acmeforward: directive %q not found in CoreDNS's plugin order; cannot place acmeforward", "cache")
	}
	return slices.Insert(slices.Clone(directives), i, "acmeforward"), nil
}

func main() {
	coremain.Run()
}
