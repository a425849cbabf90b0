// Command clientsdoc writes docs/CLIENTS.md from the query logs the
// conformance tests write (testdata/querylog/*.txt: every file there), or
// with -check fails when the committed doc differs from what they give.
//
//	cd tests/conformance && go run ./cmd/clientsdoc [-check] [-logs DIR] [-doc FILE]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	logs := flag.String("logs", "testdata/querylog", "the directory of the query logs")
	docPath := flag.String("doc", "../../docs/CLIENTS.md", "the doc to write or check")
	check := flag.Bool("check", false, "do not write: fail when the doc is not what the logs give")
	flag.Parse()
	doc, missing, err := generate(*logs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clientsdoc:", err)
		os.Exit(1)
	}
	for _, m := range missing {
		fmt.Fprintf(os.Stderr, "clientsdoc: %s has no hand-written note in notes.go\n", m)
	}
	if *check {
		have, err := os.ReadFile(*docPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "clientsdoc:", err)
			os.Exit(1)
		}
		if string(have) != doc {
			fmt.Fprintf(os.Stderr, "clientsdoc: %s is stale: the query logs in %s give another doc; run `make clients-doc` and commit it\n", *docPath, *logs)
			os.Exit(1)
		}
		fmt.Printf("clientsdoc: %s is current\n", *docPath)
		return
	}
	if err := os.WriteFile(*docPath, []byte(doc), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "clientsdoc:", err)
		os.Exit(1)
	}
	fmt.Printf("clientsdoc: wrote %s\n", *docPath)
}

// generate reads every query log in dir (in name order) and renders the doc.
func generate(dir string) (string, []string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return "", nil, err
	}
	if len(files) == 0 {
		return "", nil, fmt.Errorf("no query log in %s: run the conformance tests first", dir)
	}
	sort.Strings(files)
	var logs []*queryLog
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return "", nil, err
		}
		l, err := parseQueryLog(f, string(text))
		if err != nil {
			return "", nil, err
		}
		logs = append(logs, l)
	}
	doc, missing := render(logs)
	return doc, missing, nil
}
