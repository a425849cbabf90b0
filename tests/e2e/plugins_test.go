package e2e_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// `coredns -plugins` lists acmeforward: the binary has the plugin built in (the check
// docs/BUILDING.md gives for the standard build). The list is alphabetical, not the chain
// order: that acmeforward runs before cache is TestSplitHorizon's "token change is seen at
// once", and scripts/standard-build.sh checks the generated order.
func TestPluginsList(t *testing.T) {
	t.Parallel()
	bin := world.CoreDNSBinary(t)
	out, err := exec.Command(bin, "-plugins").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -plugins: %v\n%s", bin, err, out)
	}
	plugins := strings.Fields(string(out))
	for _, want := range []string{"acmeforward", "cache", "forward"} {
		if !slices.Contains(plugins, want) {
			t.Errorf("%s -plugins does not list %s:\n%s", bin, want, out)
		}
	}
}
