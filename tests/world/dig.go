package world

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Query is one lookup made by a real client (dig or kdig) against a world
// server.
type Query struct {
	Server netip.AddrPort
	Name   string
	Type   string // "TXT", "A", ...
	TCP    bool
	// Timeout is the client's wait for a reply (one try, no retry); whole
	// seconds, at least 1; 5s when zero.
	Timeout time.Duration
	// Opts are more client options ("+norecurse", ...), given just before
	// the name and type.
	Opts []string
}

// RR is one record as the client printed it.
type RR struct {
	Name  string
	TTL   uint32
	Class string
	Type  string
	Data  string // presentation form, as printed
}

// Response is what the client printed, parsed.
type Response struct {
	Tool       string
	Args       []string
	Rcode      string
	ID         int
	Flags      []string
	Answer     []RR
	Authority  []RR
	Additional []RR
	Output     string
}

// HasFlag reports a header flag ("qr", "aa", "tc", "rd", "ra", ...).
func (r *Response) HasFlag(f string) bool {
	for _, g := range r.Flags {
		if g == f {
			return true
		}
	}
	return false
}

// TXTs gives the text of every TXT record in the answer (strings of one
// record joined).
func (r *Response) TXTs() []string {
	var out []string
	for _, rr := range r.Answer {
		if rr.Type == "TXT" {
			s, err := ParseTXT(rr.Data)
			if err != nil {
				s = "!" + err.Error()
			}
			out = append(out, s)
		}
	}
	return out
}

// Records gives the answer records of one type.
func (r *Response) Records(typ string) []RR {
	var out []RR
	for _, rr := range r.Answer {
		if rr.Type == typ {
			out = append(out, rr)
		}
	}
	return out
}

// String is the command line and the output, for test messages.
func (r *Response) String() string {
	return fmt.Sprintf("$ %s\n%s", strings.Join(r.Args, " "), r.Output)
}

func (q Query) check() (secs int, err error) {
	if err := MustLoopback(q.Server); err != nil {
		return 0, err
	}
	if q.Name == "" || q.Type == "" {
		return 0, errors.New("query needs a name and a type")
	}
	secs = int((q.Timeout + time.Second - 1) / time.Second)
	if q.Timeout == 0 {
		secs = 5
	}
	return max(secs, 1), nil
}

// DigArgs is dig's command line for q: one try, no ~/.digrc, header comments
// and the answer, authority and additional sections only.
func DigArgs(q Query) ([]string, error) {
	secs, err := q.check()
	if err != nil {
		return nil, err
	}
	args := []string{"dig", "-r", "@" + q.Server.Addr().String(), "-p", strconv.Itoa(int(q.Server.Port())),
		"+noall", "+comments", "+answer", "+authority", "+additional",
		"+tries=1", fmt.Sprintf("+time=%d", secs)}
	if q.TCP {
		args = append(args, "+tcp")
	}
	args = append(args, q.Opts...)
	return append(args, q.Name, q.Type), nil
}

// KDigArgs is kdig's command line for q.
func KDigArgs(q Query) ([]string, error) {
	secs, err := q.check()
	if err != nil {
		return nil, err
	}
	args := []string{"kdig", "@" + q.Server.Addr().String(), "-p", strconv.Itoa(int(q.Server.Port())),
		"+noall", "+header", "+comments", "+answer", "+authority", "+additional",
		"+retry=0", fmt.Sprintf("+timeout=%d", secs)}
	if q.TCP {
		args = append(args, "+tcp")
	}
	args = append(args, q.Opts...)
	return append(args, q.Name, q.Type), nil
}

// Dig runs dig as the client.
func Dig(q Query) (*Response, error) {
	args, err := DigArgs(q)
	if err != nil {
		return nil, err
	}
	return run(args)
}

// KDig runs kdig as the client.
func KDig(q Query) (*Response, error) {
	args, err := KDigArgs(q)
	if err != nil {
		return nil, err
	}
	return run(args)
}

// ClientRunLimit bounds one client run: a client that has not returned by
// then is killed and the lookup is an error (a hang).
const ClientRunLimit = 30 * time.Second

func run(args []string) (*Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ClientRunLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, runErr := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("$ %s\nclient did not return within %v\n%s", strings.Join(args, " "), ClientRunLimit, out)
	}
	r, err := ParseOutput(args[0], string(out))
	if err != nil {
		return nil, fmt.Errorf("$ %s\n(%v) %v\n%s", strings.Join(args, " "), runErr, err, out)
	}
	r.Args = args
	return r, nil
}

var (
	headerRe = regexp.MustCompile(`->>HEADER<<-.*status:\s*([A-Za-z0-9]+)[,;]\s*id:\s*(\d+)`)
	flagsRe  = regexp.MustCompile(`(?i)^;;\s*flags:\s*([^;]*);`)
	rrRe     = regexp.MustCompile(`^(\S+)\s+(\d+)\s+([A-Za-z0-9]+)\s+([A-Za-z0-9]+)\s*(.*)$`)
)

// ParseOutput reads dig's or kdig's output (+noall +comments +answer
// +authority +additional; kdig also +header). The last header wins (dig
// prints one per reply it accepts, e.g. after a TCP retry). Records before
// any section title, and those of pseudosections, are not kept.
func ParseOutput(tool, out string) (*Response, error) {
	r := &Response{Tool: tool, Output: out}
	var section *[]RR
	seen := false
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if m := headerRe.FindStringSubmatch(line); m != nil {
			seen = true
			r.Rcode = strings.ToUpper(m[1])
			r.ID, _ = strconv.Atoi(m[2])
			r.Flags, r.Answer, r.Authority, r.Additional = nil, nil, nil, nil
			section = nil
			continue
		}
		if m := flagsRe.FindStringSubmatch(line); m != nil {
			r.Flags = strings.Fields(strings.ToLower(m[1]))
			continue
		}
		if strings.HasPrefix(line, ";") {
			switch title := strings.ToUpper(strings.Trim(line, "; ")); title {
			case "ANSWER SECTION:":
				section = &r.Answer
			case "AUTHORITY SECTION:":
				section = &r.Authority
			case "ADDITIONAL SECTION:":
				section = &r.Additional
			default:
				if strings.HasSuffix(title, "SECTION:") {
					section = nil // QUESTION SECTION, OPT PSEUDOSECTION, ...
				}
			}
			continue
		}
		if section == nil {
			continue // a message line outside the sections
		}
		m := rrRe.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%s: cannot parse record line %q", tool, raw)
		}
		ttl, err := strconv.ParseUint(m[2], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: bad TTL in %q", tool, raw)
		}
		*section = append(*section, RR{Name: m[1], TTL: uint32(ttl), Class: m[3], Type: strings.ToUpper(m[4]), Data: strings.TrimSpace(m[5])})
	}
	if !seen {
		return nil, fmt.Errorf("%s printed no reply header", tool)
	}
	return r, nil
}

// ParseTXT joins the character-strings of TXT presentation data:
// `"ab" "c\"d"` is `abc"d`. \DDD and \X escapes are decoded.
func ParseTXT(data string) (string, error) {
	var out []byte
	i := 0
	for i < len(data) {
		switch c := data[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '"':
			i++
			closed := false
			for i < len(data) {
				c := data[i]
				if c == '"' {
					closed = true
					i++
					break
				}
				if c == '\\' {
					b, n, err := unescape(data[i:])
					if err != nil {
						return "", err
					}
					out = append(out, b)
					i += n
					continue
				}
				out = append(out, c)
				i++
			}
			if !closed {
				return "", fmt.Errorf("unterminated string in %q", data)
			}
		default: // an unquoted character-string
			for i < len(data) && data[i] != ' ' && data[i] != '\t' {
				if data[i] == '\\' {
					b, n, err := unescape(data[i:])
					if err != nil {
						return "", err
					}
					out = append(out, b)
					i += n
					continue
				}
				out = append(out, data[i])
				i++
			}
		}
	}
	return string(out), nil
}

func unescape(s string) (byte, int, error) {
	if len(s) < 2 {
		return 0, 0, fmt.Errorf("dangling backslash")
	}
	if s[1] >= '0' && s[1] <= '9' {
		if len(s) < 4 {
			return 0, 0, fmt.Errorf("short \\DDD escape")
		}
		v, err := strconv.Atoi(s[1:4])
		if err != nil || v > 255 {
			return 0, 0, fmt.Errorf("bad \\DDD escape %q", s[:4])
		}
		return byte(v), 4, nil
	}
	return s[1], 2, nil
}
