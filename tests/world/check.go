package world

// Running `acmeforward check` (the diagnostic command, docs/CHECK.md)
// against the servers of a world.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// EnvCheck names the `acmeforward` binary (the check command) under test.
const EnvCheck = "ACMEFORWARD_CHECK"

// CheckCLI is the check binary, from EnvCheck. Like CoreDNSBinary it fails,
// never skips, when the variable is unset or names no executable.
func CheckCLI(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvCheck)
	if bin == "" {
		t.Fatalf("%s is not set: set it to the acmeforward binary, an absolute path (build it with "+
			"`make cli`, then e.g. `cd tests && %s=$PWD/../build/bin/acmeforward go test ./e2e/`)", EnvCheck, EnvCheck)
	}
	st, err := os.Stat(bin)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s is not an executable file (%v)", EnvCheck, bin, err)
	}
	return bin
}

// CheckRun is one run of `acmeforward check`.
type CheckRun struct {
	Args   []string
	Exit   int
	Stdout string
	Stderr string
}

func (r CheckRun) String() string {
	return fmt.Sprintf("acmeforward %s\nexit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Exit, r.Stdout, r.Stderr)
}

// CheckArgs builds the arguments of `acmeforward check` for a resolver, the
// public resolvers and a name, plus extra flags (e.g. "--json").
func CheckArgs(resolver netip.AddrPort, public []netip.AddrPort, name string, extra ...string) []string {
	args := []string{"check", "--resolver", resolver.String()}
	for _, p := range public {
		args = append(args, "--public", p.String())
	}
	args = append(args, extra...)
	return append(args, name)
}

// RunCheck runs bin with args (bounded by a minute: the check itself bounds
// every try by its --timeout). Only a failure to run at all is an error; a
// non-zero exit status is in the result.
func RunCheck(bin string, args ...string) (CheckRun, error) {
	for _, a := range args {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			if err := MustLoopback(ap); err != nil {
				return CheckRun{}, err
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := CheckRun{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.Exited():
		run.Exit = exit.ExitCode()
	default:
		return run, fmt.Errorf("running %s: %w", bin, err)
	}
	return run, nil
}

// CheckReport is the --json output of `acmeforward check`.
type CheckReport struct {
	Verdict     string        `json:"verdict"`
	ExitCode    int           `json:"exit_code"`
	Name        string        `json:"name"`
	Resolver    string        `json:"resolver"`
	Public      []string      `json:"public"`
	Summary     string        `json:"summary"`
	Fix         string        `json:"fix"`
	Corefile    string        `json:"corefile"`
	Differences []string      `json:"differences"`
	Hints       []string      `json:"hints"`
	Lookups     []CheckLookup `json:"lookups"`
}

// CheckLookup is one question and both views' replies.
type CheckLookup struct {
	Step     string `json:"step"`
	Hint     bool   `json:"hint"`
	Question struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"question"`
	Resolver CheckReply `json:"resolver"`
	Public   CheckReply `json:"public"`
	Equal    bool       `json:"equal"`
}

// CheckReply is one view's reply: RCODE (empty without a reply), the error
// text without a reply, and the answer records.
type CheckReply struct {
	Rcode   string `json:"rcode"`
	Error   string `json:"error"`
	Records []struct {
		Name string `json:"name"`
		Type string `json:"type"`
		Data string `json:"data"`
	} `json:"records"`
}

// ParseCheckReport decodes the --json output.
func ParseCheckReport(stdout string) (CheckReport, error) {
	var r CheckReport
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("check --json output: %w\n%s", err, stdout)
	}
	return r, nil
}

// Lookup finds the comparison of name (without trailing dot) and type.
func (r CheckReport) Lookup(name, typ string) (CheckLookup, bool) {
	for _, l := range r.Lookups {
		if strings.EqualFold(l.Question.Name, name) && l.Question.Type == typ {
			return l, true
		}
	}
	return CheckLookup{}, false
}

// Values are the data of the reply's records of one type.
func (r CheckReply) Values(typ string) []string {
	var out []string
	for _, rec := range r.Records {
		if rec.Type == typ {
			out = append(out, rec.Data)
		}
	}
	return out
}
