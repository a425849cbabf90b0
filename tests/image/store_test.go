package image_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Limits of one command: podman or buildah (an image build copies the 80 MB
// binary into a vfs storage), and the static CoreDNS's build, which compiles
// all of CoreDNS when Go's cache has nothing for its flags yet.
const (
	commandLimit = 5 * time.Minute
	buildLimit   = 30 * time.Minute
)

// store is a container storage of the test's own (--root, --runroot in a
// temporary directory, the vfs driver: no overlay mounts to undo), so the
// test neither sees nor leaves anything in the machine's storage.
type store struct {
	flags []string
}

func newStore(t *testing.T) *store {
	t.Helper()
	dir := t.TempDir()
	s := &store{flags: []string{
		"--root", filepath.Join(dir, "root"),
		"--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs",
	}}
	t.Cleanup(func() {
		// Containers first (a container holds its image), then images; the
		// temporary directory goes after.
		for _, args := range [][]string{{"rm", "--all", "--force"}, {"image", "rm", "--all", "--force"}} {
			if out, err := s.podman(args...); err != nil {
				t.Errorf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})
	return s
}

// podman runs podman on the store and returns its combined output.
func (s *store) podman(args ...string) (string, error) {
	return runLimited(commandLimit, "podman", append(append([]string{}, s.flags...), args...)...)
}

// podmanArgv is the command line of podman on the store, for a process the
// test starts and stops by PID.
func (s *store) podmanArgv(args ...string) []string {
	return append(append([]string{"podman"}, s.flags...), args...)
}

func runLimited(limit time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s %s: still running after %v", name, strings.Join(args, " "), limit)
	}
	return string(out), err
}

// imageConfig is what the test reads from `podman image inspect`.
type imageConfig struct {
	Size   int64
	Config struct {
		Entrypoint []string
		Cmd        []string
		User       string
	}
}

func (s *store) inspect(t *testing.T, image string) imageConfig {
	t.Helper()
	out, err := s.podman("image", "inspect", image)
	if err != nil {
		t.Fatalf("podman image inspect %s: %v\n%s", image, err, out)
	}
	var got []imageConfig
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("podman image inspect %s: %v (%d images)\n%s", image, err, len(got), out)
	}
	return got[0]
}

// repoRoot is the repository's top directory (the tests run in tests/image).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "scripts", "image.sh")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

// buildImage builds the static CoreDNS (scripts/coredns-static.sh reuses
// build/bin/coredns-static when it is newer than its inputs), the static
// `acmeforward check` (cargo's own up-to-date check) and then the image into
// s, as `make image` does.
func buildImage(t *testing.T, s *store, image string) {
	t.Helper()
	root := repoRoot(t)
	bin := filepath.Join(root, "build", "bin", "coredns-static")
	if out, err := runLimited(buildLimit, filepath.Join(root, "scripts", "coredns-static.sh"), bin); err != nil {
		t.Fatalf("scripts/coredns-static.sh: %v\n%s", err, out)
	}
	check := filepath.Join(root, "build", "bin", "acmeforward-static")
	if out, err := runLimited(buildLimit, filepath.Join(root, "scripts", "check-static.sh"), check); err != nil {
		t.Fatalf("scripts/check-static.sh: %v\n%s", err, out)
	}
	args := append([]string{bin, check, image}, s.flags...)
	if out, err := runLimited(commandLimit, filepath.Join(root, "scripts", "image.sh"), args...); err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, out)
	}
}
