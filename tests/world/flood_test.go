package world

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// The load tools count right: against a fake that answers everything at
// once, every flood question and every ordinary question is answered, and
// the sampler sees this process's memory and sockets.
func TestLoadTools(t *testing.T) {
	f := FakeT(t, FakeConfig{Mode: FakeGood})
	s := StartSampler(os.Getpid(), 10*time.Millisecond, nil)

	fl := Flood{Server: f.Addr, Rate: 2000, Senders: 8, Duration: 500 * time.Millisecond, Drain: 2 * time.Second,
		Name: func(rnd *rand.Rand) string { return ChallengeName(rnd, "example.com") }, Type: TypeTXT}
	st, err := fl.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 2000/s over 8 sockets for 0.5 s: 125 from each.
	if st.Sent != 1000 || st.Replies != st.Sent || st.Answered != st.Sent || st.Rcodes[0] != st.Sent {
		t.Fatalf("flood: %s; want 1000 sent, each answered", st)
	}
	if f.Hits() != st.Sent {
		t.Fatalf("the fake read %d questions, the flood sent %d", f.Hits(), st.Sent)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ost, err := Ordinary{Server: f.Addr, Workers: 2, Tries: 1, TryTimeout: 5 * time.Second, Pause: time.Millisecond,
		Question: OrdinaryQuestions("internal.example.com")}.Run(ctx)
	if err != nil || ost.Asked == 0 || ost.Answered != ost.Asked || ost.Failed != 0 {
		t.Fatalf("ordinary: %v %s %v", err, ost, ost.Failures)
	}

	peak, n, err := s.Stop()
	if err != nil || n == 0 || peak.RSS <= 0 || peak.Sockets < 2 {
		t.Fatalf("sampler: %v, %d samples, peak %+v", err, n, peak)
	}
}
