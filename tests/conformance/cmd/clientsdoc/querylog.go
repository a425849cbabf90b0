package main

import (
	"fmt"
	"regexp"
	"strings"
)

// queryLog is one file of testdata/querylog, as the conformance tests'
// recorder writes it: a title line, a `# names:` line, then a table whose
// first row names the columns.
type queryLog struct {
	test  string // the test that wrote it
	names []placeholder
	rows  []logRow
}

// placeholder stands for a name of the test world in the doc.
type placeholder struct {
	token, name string // "<zone>", "example.com"
}

// logRow is one lookup a client made through CoreDNS.
type logRow struct {
	client, mode, coredns string
	qtype, qname, proto   string
	// flags are the columns beyond the known ones (the recorder may add
	// header flags such as RD or DO), as NAME=value, in column order.
	flags []string
}

// The columns every query log has; any other column is a flag.
var (
	requiredColumns = []string{"client", "mode", "qtype", "qname", "proto"}
	knownColumns    = append([]string{"coredns", "rcode"}, requiredColumns...)
)

var (
	titleLine = regexp.MustCompile(`^# (\S+)( \(test FAILED\))?: `)
	namesLine = regexp.MustCompile(`^# names:((?: <[a-z-]+>=\S+)+)$`)
)

// parseQueryLog reads one query log; file names it in errors.
func parseQueryLog(file, text string) (*queryLog, error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("%s: want a title, a names line and a header, got %d lines", file, len(lines))
	}
	m := titleLine.FindStringSubmatch(lines[0])
	if m == nil {
		return nil, fmt.Errorf("%s: first line %q is not a query log title", file, lines[0])
	}
	if m[2] != "" {
		return nil, fmt.Errorf("%s: written by a failed run of %s: rerun it", file, m[1])
	}
	l := &queryLog{test: m[1]}
	nm := namesLine.FindStringSubmatch(lines[1])
	if nm == nil {
		return nil, fmt.Errorf("%s: second line %q is not `# names: <token>=name ...` (written before the recorder named them: rerun %s)", file, lines[1], l.test)
	}
	for _, f := range strings.Fields(nm[1]) {
		token, name, _ := strings.Cut(f, "=")
		l.names = append(l.names, placeholder{token, strings.ToLower(strings.TrimSuffix(name, "."))})
	}
	// Comment lines after the names line say what columns mean; the header follows them.
	h := 2
	for h < len(lines)-1 && strings.HasPrefix(lines[h], "#") {
		h++
	}
	header := strings.Fields(lines[h])
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, c := range requiredColumns {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s: no %q column in %q", file, c, lines[h])
		}
	}
	for n, line := range lines[h+1:] {
		f := strings.Fields(line)
		if len(f) != len(header) {
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", file, h+n+2, len(f), len(header))
		}
		r := logRow{client: f[col["client"]], mode: f[col["mode"]], qtype: f[col["qtype"]],
			qname: strings.ToLower(f[col["qname"]]), proto: f[col["proto"]]}
		if i, ok := col["coredns"]; ok {
			r.coredns = f[i]
		}
		for i, h := range header {
			if !contains(knownColumns, h) {
				r.flags = append(r.flags, strings.ToUpper(h)+"="+f[i])
			}
		}
		l.rows = append(l.rows, r)
	}
	return l, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pattern is qname with the world's names as placeholders: the zone apexes
// and the CNAME target's label as their tokens, the NS hosts (ns1, ...) and
// underscore labels (_acme-challenge, _validation-persist) as they are, any other label left of an apex (the tests'
// host names: www, late3, ...) as <host>. A name under no apex stays.
func pattern(qname string, names []placeholder) string {
	name := strings.TrimSuffix(qname, ".")
	var apex placeholder
	for _, p := range names {
		if !strings.HasPrefix(p.token, "<") || !strings.Contains(p.name, ".") {
			continue
		}
		if (name == p.name || strings.HasSuffix(name, "."+p.name)) && len(p.name) > len(apex.name) {
			apex = p
		}
	}
	if apex.name == "" {
		return qname
	}
	left := strings.TrimSuffix(strings.TrimSuffix(name, apex.name), ".")
	if left == "" {
		return apex.token
	}
	labels := strings.Split(left, ".")
	for i, label := range labels {
		labels[i] = labelPattern(label, names)
	}
	return strings.Join(labels, ".") + "." + apex.token
}

var nsHost = regexp.MustCompile(`^ns[0-9]*$`)

func labelPattern(label string, names []placeholder) string {
	for _, p := range names {
		if p.name == label {
			return p.token
		}
	}
	// Underscore labels are the challenge labels (_acme-challenge, _validation-persist, a
	// dns-account-01 account label): what the client asked for, kept as they are.
	if strings.HasPrefix(label, "_") || nsHost.MatchString(label) {
		return label
	}
	return "<host>"
}
