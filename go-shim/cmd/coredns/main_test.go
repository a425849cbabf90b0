package main

import (
	"slices"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
)

func TestDirectiveOrder(t *testing.T) {
	at := slices.Index(dnsserver.Directives, "acmeforward")
	if at < 0 {
		t.Fatalf("acmeforward is not in dnsserver.Directives: %v", dnsserver.Directives)
	}
	if n := len(slices.DeleteFunc(slices.Clone(dnsserver.Directives), func(d string) bool { return d != "acmeforward" })); n != 1 {
		t.Fatalf("acmeforward appears %d times in dnsserver.Directives", n)
	}
	if got := dnsserver.Directives[at+1]; got != "cache" {
		t.Errorf("directive after acmeforward = %q, want cache", got)
	}
	for _, before := range []string{"errors", "log", "prometheus", "acl"} {
		if i := slices.Index(dnsserver.Directives, before); i < 0 || i > at {
			t.Errorf("%q (index %d) must come before acmeforward (index %d)", before, i, at)
		}
	}
	for _, after := range []string{"cache", "file", "hosts", "template", "kubernetes", "forward"} {
		if i := slices.Index(dnsserver.Directives, after); i < at {
			t.Errorf("%q (index %d) must come after acmeforward (index %d)", after, i, at)
		}
	}
}

func TestWithAcmeforwardNeedsCache(t *testing.T) {
	if _, err := withAcmeforward([]string{"errors", "log", "forward"}); err == nil {
		t.Fatal("withAcmeforward without cache: want an error, got none")
	}
	in := []string{"log", "cache", "forward"}
	out, err := withAcmeforward(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"log", "acmeforward", "cache", "forward"}; !slices.Equal(out, want) {
		t.Errorf("withAcmeforward(%v) = %v, want %v", in, out, want)
	}
	if !slices.Equal(in, []string{"log", "cache", "forward"}) {
		t.Errorf("withAcmeforward modified its input: %v", in)
	}
}
