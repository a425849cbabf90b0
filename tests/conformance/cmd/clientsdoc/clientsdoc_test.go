package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const names = "# names: <zone>=example.com <cname-zone>=auth.example.net <id>=d0c5a3e1\n"

// As the recorder writes it today: no flag columns.
const logPlain = "# TestA: the lookups the clients made through CoreDNS (its log plugin), in order.\n" + names +
	`client  mode            coredns                    qtype  qname                              rcode    proto
lego    authoritative   recursive/apex             SOA    _acme-challenge.example.com.       NOERROR  udp
lego    authoritative   authoritative/apex         TXT    _acme-challenge.example.com.       NOERROR  udp
lego    authoritative   authoritative/apex         TXT    _acme-challenge.example.com.       NOERROR  tcp
lego    authoritative   recursive/apex             A      ns1.example.com.                   NOERROR  udp
lego    recursive-only  node-cache+recursive/late  TXT    _acme-challenge.late3.example.com. NOERROR  udp
lego    recursive-only  recursive/CNAME            TXT    d0c5a3e1.auth.example.net.         NOERROR  udp
lego    recursive-only  recursive-learned/CNAME    SOA    auth.example.net.                  NOERROR  udp
lego    recursive-only  recursive/CNAME            A      pebble.invalid.                    NOERROR  udp
`

// With flag columns, as a recorder that logs the header bits might.
const logFlags = "# TestB: the lookups the clients made through CoreDNS (its log plugin), in order.\n" + names +
	"# rd, cd: the bits of CoreDNS's reply (a reply carries its question's); do: the question's DO bit.\n" +
	`client     mode           coredns        qtype  qname                         rcode    proto  rd  do
certmagic  authoritative  recursive/apex TXT    _acme-challenge.example.com.  NOERROR  udp    1   0
`

func TestParseWithoutFlags(t *testing.T) {
	l, err := parseQueryLog("a.txt", logPlain)
	if err != nil {
		t.Fatal(err)
	}
	if l.test != "TestA" || len(l.rows) != 8 || len(l.names) != 3 {
		t.Fatalf("parsed %+v", l)
	}
	if r := l.rows[0]; r.client != "lego" || r.mode != "authoritative" || r.qtype != "SOA" || r.coredns != "recursive/apex" || r.proto != "udp" || r.flags != nil {
		t.Fatalf("row 0: %+v", r)
	}
}

func TestParseWithFlags(t *testing.T) {
	l, err := parseQueryLog("b.txt", logFlags)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.rows[0].flags, " "); got != "RD=1 DO=0" {
		t.Fatalf("flags %q, want RD=1 DO=0", got)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, text := range map[string]string{
		"failed run":     strings.Replace(logPlain, "TestA:", "TestA (test FAILED):", 1),
		"no names line":  strings.Replace(logPlain, names, "", 1),
		"no qname":       strings.Replace(logPlain, "qname", "name", 1),
		"a short row":    logPlain + "lego authoritative\n",
		"not a querylog": "hello\n\n\n",
	} {
		if _, err := parseQueryLog(name, text); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestPattern(t *testing.T) {
	l, err := parseQueryLog("a.txt", logPlain)
	if err != nil {
		t.Fatal(err)
	}
	for qname, want := range map[string]string{
		"example.com.":                                       "<zone>",
		"_acme-challenge.example.com.":                       "_acme-challenge.<zone>",
		"_acme-challenge.www.example.com.":                   "_acme-challenge.<host>.<zone>",
		"_acme-challenge.late3.example.com.":                 "_acme-challenge.<host>.<zone>",
		"ns1.example.com.":                                   "ns1.<zone>",
		"_validation-persist.example.com.":                   "_validation-persist.<zone>",
		"_ujmmovf2vn55tgye._acme-challenge.www.example.com.": "_ujmmovf2vn55tgye._acme-challenge.<host>.<zone>",
		"d0c5a3e1.auth.example.net.":                         "<id>.<cname-zone>",
		"ns1.auth.example.net.":                              "ns1.<cname-zone>",
		"auth.example.net.":                                  "<cname-zone>",
		"example.net.":                                       "example.net.",
		"notexample.com.":                                    "notexample.com.",
	} {
		if got := pattern(qname, l.names); got != want {
			t.Errorf("pattern(%s) = %s, want %s", qname, got, want)
		}
	}
}

// render: one row per client and mode, each lookup once (the first one's
// protocol), the hand-written note, and a missing note named.
func TestRender(t *testing.T) {
	a, err := parseQueryLog("a.txt", logPlain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseQueryLog("b.txt", logFlags)
	if err != nil {
		t.Fatal(err)
	}
	b.rows = append(b.rows, logRow{client: "newclient", mode: "default", qtype: "TXT", qname: "_acme-challenge.example.com.", proto: "udp"})
	// The same question with RD clear is another lookup; again with RD clear is not.
	rd0 := logRow{client: "certmagic", mode: "authoritative", qtype: "TXT", qname: "_acme-challenge.example.com.", proto: "udp", flags: []string{"RD=0", "DO=0"}}
	b.rows = append(b.rows, rd0, rd0)
	doc, missing := render([]*queryLog{a, b})
	for _, want := range []string{
		"| lego | authoritative | `TXT _acme-challenge.<zone> udp`<br>`SOA _acme-challenge.<zone> udp`<br>`A ns1.<zone> udp` | authoritative, recursive (TestA) | " + elsewhere[[2]string{"lego", "authoritative"}].text,
		"| lego | recursive-only | `TXT <id>.<cname-zone> udp`<br>`TXT _acme-challenge.<host>.<zone> udp`<br>`SOA <cname-zone> udp`<br>`A pebble.invalid. udp` | recursive (TestA) |",
		"| certmagic | authoritative | `TXT _acme-challenge.<zone> udp RD=0 DO=0`<br>`TXT _acme-challenge.<zone> udp RD=1 DO=0` | recursive (TestB) |",
		"| newclient | default | `TXT _acme-challenge.<zone> udp` |  (TestB) | not described yet",
		"| acme.sh, ",
		"| certbot, ",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc lacks %q\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "tcp`") {
		t.Errorf("a TCP retry made a row of its own\n%s", doc)
	}
	if len(missing) != 1 || missing[0] != "newclient default" {
		t.Errorf("missing %q, want [newclient default]", missing)
	}
}

// generate takes every file of the directory, in name order, whatever its
// name.
func TestGenerateTakesEveryFile(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := generate(dir); err == nil {
		t.Fatal("generated from no log")
	}
	for name, text := range map[string]string{"TestZ.txt": logPlain, "Anything_new.txt": logFlags} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc, _, err := generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc, "(TestA)") || !strings.Contains(doc, "(TestB)") {
		t.Fatalf("not every file was read:\n%s", doc)
	}
}
