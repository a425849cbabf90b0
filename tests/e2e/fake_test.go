package e2e_test

import (
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

// startFake starts a fake upstream (world.Fake) in mode for the test.
func startFake(t *testing.T, mode world.FakeMode) *world.Fake {
	t.Helper()
	return world.FakeT(t, world.FakeConfig{Mode: mode})
}
