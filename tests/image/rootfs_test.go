package image_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// wantStatic checks that an executable of the image needs no libc (the image
// has none): ldd lists no library ("not a dynamic executable", or
// "statically linked" for a static PIE).
func wantStatic(t *testing.T, path string) {
	t.Helper()
	if out, _ := exec.Command("ldd", path).CombinedOutput(); strings.Contains(string(out), "=>") {
		t.Fatalf("%s is dynamically linked:\n%s", path, out)
	}
}

// wantStaticCapable checks the image's entrypoint: static, and carrying
// cap_net_bind_service as a file capability (it runs as a non-root user and
// binds port 53).
func wantStaticCapable(t *testing.T, path string) {
	t.Helper()
	wantStatic(t, path)
	out, err := exec.Command("getcap", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cap_net_bind_service") {
		t.Fatalf("getcap %s: %v: %q, want cap_net_bind_service", path, err, out)
	}
}

// wantUID checks that process pid runs as the image's user ("UID[:GID]").
func wantUID(t *testing.T, pid int, user string) {
	t.Helper()
	uid, _, _ := strings.Cut(user, ":")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) == 0 || f[0] != uid {
				t.Fatalf("pid %d runs as uid %q, want %s (the image's user)", pid, rest, uid)
			}
			return
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
}
