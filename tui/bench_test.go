package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"polyglot/inbox"
	"polyglot/protocols"
)

// benchStore returns a store holding one conversation of 100k messages:
// POLYGLOT_BENCH_STORE if set (generated once there), else a file under the
// temp dir reused across runs.
func benchStore(b *testing.B) string {
	b.Helper()
	path := os.Getenv("POLYGLOT_BENCH_STORE")
	if path == "" {
		path = filepath.Join(os.TempDir(), "polyglot-tui-bench-100k.db")
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	in, err := inbox.Open(path, inbox.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	from := protocols.Address{Network: protocols.Matrix, Account: "mx", ID: "@ada:example.org", Server: "example.org"}
	if err := in.Ingest("mx", protocols.ContactEvent{Contact: from, Name: "Ada"}); err != nil {
		b.Fatal(err)
	}
	const total, batch = 100_000, 5_000
	start := testNow.Add(-total * time.Minute)
	for i := 0; i < total; i += batch {
		evs := make([]protocols.Event, 0, batch)
		for j := i; j < i+batch; j++ {
			evs = append(evs, protocols.MessageEvent{Historical: true, Message: protocols.Message{
				NetworkID: protocols.MessageID(fmt.Sprintf("m%06d", j)), Chat: protocols.Chat{ID: "!ada:example.org"}, Sender: from,
				Encryption: protocols.EncE2EE,
				Body:       fmt.Sprintf("message %d: the quick brown fox jumps over the lazy dog, then naps a while", j),
				Sent:       start.Add(time.Duration(j) * time.Minute)}})
		}
		if err := in.IngestBatch("mx", evs); err != nil {
			b.Fatal(err)
		}
	}
	return path
}

func openBench(b *testing.B, path string) *inbox.Inbox {
	in, err := inbox.Open(path, inbox.Options{Now: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkView measures one frame of an open 100k-message conversation:
// View only slices the cached visible window.
func BenchmarkView(b *testing.B) {
	in := openBench(b, benchStore(b))
	defer in.Close()
	convs, err := in.Conversations(inbox.Cursor{}, 1)
	if err != nil || len(convs) == 0 {
		b.Fatalf("bench store: %v %v", convs, err)
	}
	h := newHarness(b, in, 120, 40)
	h.send(openConversationMsg{ID: convs[0].ID})
	if n := len(h.m.conv.msgs); n == 0 || n > 200 {
		b.Fatalf("loaded %d messages; the view must page", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = h.m.View()
	}
}

// BenchmarkFirstFrame: open the store, build the model, load the first
// pages (list, requests, accounts, then the first conversation), draw.
func BenchmarkFirstFrame(b *testing.B) {
	path := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		in := openBench(b, path)
		h := newHarness(b, in, 120, 40)
		h.keys("enter")
		if h.m.View() == "" {
			b.Fatal("empty frame")
		}
		h.m.close()
		in.Close()
	}
	b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-rss-MiB")
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc: cannot measure RSS")
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
