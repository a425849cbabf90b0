package conformance_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// binDir is TestMain's temporary directory, removed when the tests end.
var binDir string

// builtBinary is one `go build` of a package of this module's build list.
type builtBinary struct {
	once sync.Once
	path string
	err  error
}

var (
	builtMu sync.Mutex
	built   = map[string]*builtBinary{}
)

// goBuild builds pkg (a command of this module, "./cmd/NAME", or one of a
// module go.mod requires, at the version go.mod pins) once per test
// process, CGO_ENABLED=0, and gives the executable's path.
func goBuild(t *testing.T, pkg string) string {
	t.Helper()
	builtMu.Lock()
	b, ok := built[pkg]
	if !ok {
		b = &builtBinary{}
		built[pkg] = b
	}
	builtMu.Unlock()
	b.once.Do(func() {
		b.path = filepath.Join(binDir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}
