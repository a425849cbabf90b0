// Package deploy_test checks deploy/: the kubeadm ConfigMap's and the Helm
// values' Corefiles run (on loopback, against the demo world) with the real
// plugin, the kustomize patch swaps the Deployment's image for the one `make
// image` builds, and the image's own default Corefile starts. A module of its
// own: kustomize's engine and its dependencies stay out of the tests module
// (and of tests/conformance, which builds on it).
package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// repoFile reads a file of the repository (the tests run in tests/deploy).
func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readTestdata reads a file of tests/deploy/testdata.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var makefileImage = regexp.MustCompile(`(?m)^IMAGE \?= (\S+)$`)

// madeImage is the image name `make image` gives (the Makefile's IMAGE).
func madeImage(t *testing.T) string {
	t.Helper()
	m := makefileImage.FindSubmatch(repoFile(t, "Makefile"))
	if m == nil {
		t.Fatal("no `IMAGE ?= NAME` line in the Makefile")
	}
	return string(m[1])
}
