package inbox

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"polyglot/protocols"
)

// largeStore is POLYGLOT_BENCH_STORE (generated there once: 1M messages,
// 5k conversations, 100k in the newest), or a small store under the temp
// dir so `go test -bench` works without the script.
func largeStore(b *testing.B) string {
	b.Helper()
	path, spec := os.Getenv("POLYGLOT_BENCH_STORE"),
		LargeSpec{Messages: 1_000_000, Conversations: 5_000, Biggest: 100_000, Seed: 1}
	if path == "" {
		path = filepath.Join(os.TempDir(), "polyglot-inbox-bench-small.db")
		spec = LargeSpec{Messages: 60_000, Conversations: 500, Biggest: 20_000, Seed: 1}
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	if err := GenerateLarge(path, spec); err != nil {
		os.Remove(path)
		b.Fatal(err)
	}
	b.Logf("generated %d messages in %v", spec.Messages, time.Since(start))
	return path
}

func openLarge(b *testing.B) *Inbox {
	in, err := Open(largeStore(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close() })
	return in
}

// BenchmarkIngest is the live/history ingest path: batches of 1,000
// messages from 100 contacts through IngestBatch (dedupe, consent,
// conversation updates, FTS) into a real file.
func BenchmarkIngest(b *testing.B) {
	in, err := Open(filepath.Join(b.TempDir(), "ingest.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	contacts := make([]protocols.Address, 100)
	for i := range contacts {
		contacts[i] = protocols.Address{Network: protocols.Matrix, Account: "mx", ID: fmt.Sprintf("@c%03d:example.org", i), Server: "example.org"}
		if err := in.Ingest("mx", protocols.ContactEvent{Contact: contacts[i], Name: fmt.Sprintf("Contact %d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(2, 2))
	const batch = 1000
	t0 := time.Unix(1_700_000_000, 0)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		evs := make([]protocols.Event, batch)
		for j := range evs {
			c := contacts[rng.IntN(len(contacts))]
			evs[j] = protocols.MessageEvent{Historical: true, Message: protocols.Message{
				NetworkID: fmt.Sprintf("$b%d-%d", i, j), Chat: protocols.Chat{ID: "!dm-" + c.ID, Peer: c},
				Sender: c, Body: body(rng), Sent: t0.Add(time.Duration(n) * time.Second), Encryption: protocols.EncE2EE}}
			n++
		}
		if err := in.IngestBatch("mx", evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkIngestLive is the live path: one message per Ingest call (one
// transaction each), as a connected account delivers them, from 100
// contacts into a real file. An op is 100 messages, so `-benchtime 100x`
// (what scripts/bench passes) measures 10,000.
func BenchmarkIngestLive(b *testing.B) {
	in, err := Open(filepath.Join(b.TempDir(), "live.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	contacts := make([]protocols.Address, 100)
	for i := range contacts {
		contacts[i] = protocols.Address{Network: protocols.Matrix, Account: "mx", ID: fmt.Sprintf("@c%03d:example.org", i), Server: "example.org"}
		if err := in.Ingest("mx", protocols.ContactEvent{Contact: contacts[i], Name: fmt.Sprintf("Contact %d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(5, 5))
	t0 := time.Unix(1_700_000_000, 0)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		for range 100 {
			c := contacts[rng.IntN(len(contacts))]
			if err := in.Ingest("mx", protocols.MessageEvent{Message: protocols.Message{
				NetworkID: fmt.Sprintf("$l%d", n), Chat: protocols.Chat{ID: "!dm-" + c.ID, Peer: c},
				Sender: c, Body: body(rng), Sent: t0.Add(time.Duration(n) * time.Second), Encryption: protocols.EncE2EE}}); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkSearch runs one-word and two-word full-text queries over the
// large store and reports the 95th percentile.
func BenchmarkSearch(b *testing.B) {
	in := openLarge(b)
	rng := rand.New(rand.NewPCG(3, 3))
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := words[rng.IntN(len(words))]
		if i%2 == 1 {
			q += " " + words[rng.IntN(len(words))]
		}
		start := time.Now()
		if _, err := in.Search(q, 50); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
}

// BenchmarkMessagesPage reads a 50-message page at a random point of the
// biggest conversation, as scrolling back does.
func BenchmarkMessagesPage(b *testing.B) {
	in := openLarge(b)
	convs, err := in.Conversations(Cursor{}, 1)
	if err != nil || len(convs) == 0 {
		b.Fatal("no conversation", err)
	}
	newest, err := in.Messages(convs[0].ID, Cursor{}, 1)
	if err != nil || len(newest) == 0 {
		b.Fatal("empty conversation", err)
	}
	var oldest int64
	if err := in.db.QueryRow(`SELECT min(at) FROM messages WHERE conversation_id = ?`, convs[0].ID).Scan(&oldest); err != nil {
		b.Fatal(err)
	}
	span := newest[0].At.Sub(fromNanos(oldest))
	rng := rand.New(rand.NewPCG(4, 4))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		back := time.Duration(rng.Int64N(int64(span) * 9 / 10))
		page, err := in.Messages(convs[0].ID, Cursor{At: newest[0].At.Add(-back), ID: 1 << 62}, 50)
		if err != nil || len(page) == 0 {
			b.Fatalf("page: %d %v", len(page), err)
		}
	}
}
