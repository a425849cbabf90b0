// Package image_test builds the container image (scripts/image.sh, as `make
// image` does) into a storage of its own and runs it on loopback against the
// demo world.
package image_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/acmeforward/acmeforward/tests/world"
)

const testImage = "localhost/acmeforward-coredns:test"

// runtimeRefusal is how crun or runc says it cannot set up the container on
// a machine that does not let it (cgroups, setrlimit): then the test runs the
// image's entrypoint from its root filesystem instead.
var runtimeRefusal = regexp.MustCompile(`(?i)(crun|runc|OCI runtime|OCI permission denied).*(cgroup|setrlimit|permission denied|operation not permitted)`)

// TestImageServesDemoToken builds the image, runs it (host network, the
// test's Corefile mounted on /etc/coredns/Corefile, listening on port 53 of
// a fresh loopback address) and gets the demo zone's token through it, over
// UDP and TCP, from a knot + dnsmasq world where dnsmasq hides the zone.
func TestImageServesDemoToken(t *testing.T) {
	s := newStore(t)
	buildImage(t, s, testImage)
	cfg := s.inspect(t, testImage)
	t.Logf("image %s: %d bytes (%.1f MB), entrypoint %q, cmd %q, user %q",
		testImage, cfg.Size, float64(cfg.Size)/1e6, cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.User)
	if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/coredns" {
		t.Fatalf("entrypoint %q, want [/coredns]", cfg.Config.Entrypoint)
	}
	if cfg.Config.User == "" || strings.HasPrefix(cfg.Config.User, "0") || strings.HasPrefix(cfg.Config.User, "root") {
		t.Fatalf("image user %q, want a non-root user", cfg.Config.User)
	}
	rootfs := mountImage(t, s)
	wantStaticCapable(t, filepath.Join(rootfs, "coredns"))
	wantStatic(t, filepath.Join(rootfs, "acmeforward"))
	for _, f := range []string{"etc/coredns/Corefile", "etc/ssl/certs/ca-certificates.crt"} {
		if st, err := os.Stat(filepath.Join(rootfs, f)); err != nil || st.Size() == 0 {
			t.Fatalf("image: /%s missing or empty: %v", f, err)
		}
	}

	// The demo world's zone and token, on fresh addresses: `make run` may
	// hold the demo's fixed ones.
	opts := world.DemoOptions()
	opts.KnotAddr, opts.DnsmasqAddr = netip.AddrPort{}, netip.AddrPort{}
	w := world.New(t, opts)
	listen := world.AddrPort(t, 53)
	acme := world.Acme{Zones: []string{world.DemoZone.Name}, To: []netip.AddrPort{w.Knot.Addr}, MaxTTL: -1}
	corefile := filepath.Join(w.Dir, "image.Corefile")
	if err := os.WriteFile(corefile, []byte(world.ClusterCorefile(listen, w.Dnsmasq.Addr, acme.String())), 0o644); err != nil {
		t.Fatal(err)
	}

	srv, how := startImage(t, s, w, cfg, rootfs, corefile, listen)
	t.Logf("the image ran %s", how)
	for _, tcp := range []bool{false, true} {
		r, err := world.Dig(world.Query{Server: listen, Name: world.DemoZone.Challenge(), Type: "TXT", TCP: tcp})
		if err != nil {
			t.Fatalf("dig (tcp %v) through %s: %v", tcp, srv, err)
		}
		world.WantTXT(t, r, world.DemoZone.Token)
	}
	// Every other example.com name keeps dnsmasq's internal answer.
	r, err := world.Dig(world.Query{Server: listen, Name: world.InternalWWW.Name, Type: "A"})
	if err != nil {
		t.Fatal(err)
	}
	world.WantA(t, r, world.InternalWWW.Addr)

	// The image's `acmeforward check`, as the README has an operator run it
	// from a pod: through the image's CoreDNS every lookup agrees with the
	// public view (knot); straight to the internal server, the challenge is
	// hidden.
	for _, c := range []struct {
		resolver netip.AddrPort
		verdict  string
		code     int
	}{
		{listen, "ok", 0},
		{w.Dnsmasq.Addr, "challenge-hidden", 1},
	} {
		out, code := runImageCheck(t, rootfs, cfg.Config.User, "--resolver", c.resolver.String(), "--public", w.Knot.Addr.String(), world.DemoZone.Name)
		if code != c.code || !strings.Contains(out, "verdict: "+c.verdict) {
			t.Fatalf("the image's /acmeforward check through %s: exit %d, want %d and verdict %s:\n%s", c.resolver, code, c.code, c.verdict, out)
		}
		t.Logf("the image's /acmeforward check through %s: verdict %s, exit %d", c.resolver, c.verdict, code)
	}
}

// runImageCheck runs the image's /acmeforward check from its root
// filesystem as the image's user, and gives its output and exit status.
func runImageCheck(t *testing.T, rootfs, user string, args ...string) (string, int) {
	t.Helper()
	argv := append([]string{"--userspec=" + user, rootfs, "/acmeforward", "check"}, args...)
	out, err := exec.Command("chroot", argv...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("chroot %s: %v\n%s", strings.Join(argv, " "), err, out)
	return "", 0
}

// startImage runs the image as a container (podman run, host network). If
// the runtime refuses to start containers on this machine, it runs the
// image's entrypoint and command from the image's root filesystem instead,
// chrooted in a private mount namespace as the image's user, with the same
// Corefile bind-mounted. It returns the server and which way it ran.
func startImage(t *testing.T, s *store, w *world.World, cfg imageConfig, rootfs, corefile string, listen netip.AddrPort) (*world.Server, string) {
	t.Helper()
	const name = "acmeforward-image-test"
	srv, err := w.StartDNSServerArgv("podman-run", listen, s.podmanArgv("run", "--rm", "--name", name,
		"--network", "host", "--cgroups", "disabled", "--pull", "never",
		"--volume", corefile+":/etc/coredns/Corefile:ro", testImage))
	if err == nil {
		out, err := s.podman("container", "inspect", "--format", "{{.State.Pid}}", name)
		pid, perr := strconv.Atoi(strings.TrimSpace(out))
		if err != nil || perr != nil {
			t.Fatalf("podman container inspect %s: %v %v\n%s", name, err, perr, out)
		}
		wantUID(t, pid, cfg.Config.User)
		return srv, "as a container (podman run --network host)"
	}
	if !runtimeRefusal.MatchString(err.Error()) {
		t.Fatalf("podman run: %v", err)
	}
	refusal := runtimeRefusal.FindString(err.Error())
	if out, err := s.podman("rm", "--force", "--ignore", name); err != nil {
		t.Fatalf("podman rm %s: %v\n%s", name, err, out)
	}

	argv := append([]string{"unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", `mount --bind "$1" "$2/etc/coredns/Corefile" && root=$2 user=$3 && shift 3 && exec chroot --userspec="$user" "$root" "$@"`,
		"image", corefile, rootfs, cfg.Config.User}, cfg.Config.Entrypoint...)
	argv = append(argv, cfg.Config.Cmd...)
	srv, err = w.StartDNSServerArgv("image-chroot", listen, argv)
	if err != nil {
		t.Fatalf("running the image's entrypoint from its root filesystem: %v", err)
	}
	wantUID(t, srv.PID(), cfg.Config.User)
	return srv, fmt.Sprintf("from its root filesystem (podman image mount, chroot as %s in unshare -m): podman run was refused: %q",
		cfg.Config.User, refusal)
}

// mountImage gives the image's root filesystem (podman image mount; the
// test's storage is vfs, so it is a plain directory), unmounted at cleanup.
func mountImage(t *testing.T, s *store) string {
	t.Helper()
	out, err := s.podman("image", "mount", testImage)
	if err != nil {
		t.Fatalf("podman image mount: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := s.podman("image", "unmount", testImage); err != nil {
			t.Errorf("podman image unmount: %v\n%s", err, out)
		}
	})
	return strings.TrimSpace(out)
}
