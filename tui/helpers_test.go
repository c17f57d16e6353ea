package tui

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/themes"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// testNow is the fixed clock of every TUI test: Wednesday 2026-03-04 15:00 UTC.
var testNow = time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)

func asciiTheme(t testing.TB) *themes.Theme {
	t.Helper()
	th, err := themes.Builtin("dark", themes.Options{Renderer: themes.ForProfile(termenv.Ascii)})
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// harness drives a root model without a terminal: it runs every command
// synchronously and feeds the resulting messages back, like the program
// loop, except the change-feed watcher (tests deliver changes themselves).
type harness struct {
	t    testing.TB
	m    *rootModel
	quit bool
	// clocks counts the minute clocks the model scheduled.
	clocks int
}

var watcherPC = reflect.ValueOf(waitChange(make(chan inbox.Change))).Pointer()

// tickPC is the accounts countdown timer; tests send accountsTickMsg instead.
var tickPC = reflect.ValueOf(tickAccounts).Pointer()

// clockPC is the minute clock; tests send clockMsg instead, and count how
// often it was scheduled (clocks).
var clockPC = reflect.ValueOf(tickClock).Pointer()

// linkWaitPC waits for a phone link's next code; tests take it with
// nextLinkMsg when the link they script has produced it.
var linkWaitPC = reflect.ValueOf((&linkSession{}).next).Pointer()

func newHarness(t testing.TB, core Core, w, h int) *harness {
	t.Helper()
	return newHarnessWith(t, Options{Core: core}, w, h)
}

// newHarnessWith is newHarness with more of the Options (Keys, say).
func newHarnessWith(t testing.TB, o Options, w, h int) *harness {
	t.Helper()
	if o.Theme == nil {
		o.Theme = asciiTheme(t)
	}
	o.Now, o.PageSize = func() time.Time { return testNow }, 20
	m := newRoot(o)
	t.Cleanup(m.close)
	hs := &harness{t: t, m: m}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(m.Init())
	return hs
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch pc := reflect.ValueOf(cmd).Pointer(); pc {
	case clockPC:
		h.clocks++
		return
	case watcherPC, tickPC, linkWaitPC:
		return
	}
	msg := cmd()
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	case tea.QuitMsg:
		h.quit = true
	default:
		// tea.Sequence's message is an unexported []tea.Cmd: run in order.
		if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
			for i := 0; i < v.Len(); i++ {
				h.run(v.Index(i).Interface().(tea.Cmd))
			}
			return
		}
		h.send(msg)
	}
}

func (h *harness) send(msg tea.Msg) {
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// keys types a sequence: named keys in <angle brackets>, the rest as runes.
func (h *harness) keys(seq ...string) {
	for _, s := range seq {
		h.send(keyMsg(s))
	}
}

// keyMsg is the key named s as Bubble Tea reports it: a special key by its
// name ("enter", "right", "ctrl+r", "alt+enter"), else the runes of s.
func keyMsg(s string) tea.KeyMsg {
	for _, alt := range []bool{false, true} {
		name := s
		if alt {
			var ok bool
			if name, ok = strings.CutPrefix(s, "alt+"); !ok {
				break
			}
		}
		for t := tea.KeyType(-128); t < 128; t++ {
			if t != tea.KeyRunes && (tea.Key{Type: t}).String() == name {
				return tea.KeyMsg{Type: t, Alt: alt}
			}
		}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func (h *harness) typeText(s string) {
	for _, r := range s {
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

func (h *harness) view() string { return h.m.View() }

func (h *harness) wheel(b tea.MouseButton) {
	h.send(tea.MouseMsg{Action: tea.MouseActionPress, Button: b})
}

func (h *harness) mustShow(parts ...string) {
	h.t.Helper()
	v := h.view()
	for _, p := range parts {
		if !strings.Contains(v, p) {
			h.t.Fatalf("screen lacks %q:\n%s", p, v)
		}
	}
}

func (h *harness) mustNotShow(parts ...string) {
	h.t.Helper()
	v := h.view()
	for _, p := range parts {
		if strings.Contains(v, p) {
			h.t.Fatalf("screen shows %q:\n%s", p, v)
		}
	}
}

// golden compares a frame with testdata/name.golden (-update rewrites it).
func golden(t *testing.T, name, frame string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(frame), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != frame {
		t.Errorf("frame differs from %s (-update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", path, frame, want)
	}
}

// fakeCore is an in-memory Core for model tests of key handling; it records
// every intent. Behaviour tests against the real store live in
// golden_test.go and bench_test.go.
type fakeCore struct {
	mu       sync.Mutex
	convs    []inbox.Conversation
	msgs     map[inbox.ConversationID][]inbox.Message // oldest first
	people   map[inbox.PersonID]inbox.Person
	routes   map[inbox.ConversationID][]inbox.Route
	reqs     []inbox.Request
	sugg     []inbox.MergeSuggestion
	hits     []inbox.SearchHit
	accounts []inbox.AccountState
	ch       chan inbox.Change

	sendErr   func(inbox.SendRequest) error
	sent      []inbox.SendRequest
	planned   []inbox.RouteOptions // every PlanRoute asked
	decided   map[inbox.ConversationID]inbox.Decision
	marked    []inbox.ConversationID
	typing    []bool
	merged    [][2]inbox.PersonID
	preferred map[inbox.PersonID]protocols.Network
	allow     map[inbox.PersonID]bool
	retried   []inbox.MessageID
	convCalls []int // limits asked of Conversations
	msgCalls  []inbox.Cursor
	searches  []string
	acts      []string // message actions, as "edit 3 new text"
	actErr    error    // what every message action returns
	dlPath    string   // what Download returns
	drafts    map[inbox.ConversationID]string
	blocked   []inbox.Request
	unblocked []inbox.PersonID
}

func newFakeCore() *fakeCore {
	return &fakeCore{
		msgs: map[inbox.ConversationID][]inbox.Message{}, people: map[inbox.PersonID]inbox.Person{},
		routes: map[inbox.ConversationID][]inbox.Route{}, decided: map[inbox.ConversationID]inbox.Decision{},
		preferred: map[inbox.PersonID]protocols.Network{}, allow: map[inbox.PersonID]bool{},
		ch: make(chan inbox.Change, 16), drafts: map[inbox.ConversationID]string{},
	}
}

func (f *fakeCore) Blocked() ([]inbox.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]inbox.Request(nil), f.blocked...), nil
}

func (f *fakeCore) Unblock(p inbox.PersonID) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unblocked = append(f.unblocked, p)
	n := 0
	for i := 0; i < len(f.blocked); i++ {
		if f.blocked[i].Person == p {
			r := f.blocked[i]
			r.Consent = inbox.ConsentUnknown
			f.reqs = append(f.reqs, r)
			f.blocked = append(f.blocked[:i], f.blocked[i+1:]...)
			i--
			n++
		}
	}
	return n, nil
}

func (f *fakeCore) Draft(id inbox.ConversationID) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drafts[id], nil
}

func (f *fakeCore) SetDraft(id inbox.ConversationID, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.TrimSpace(text) == "" {
		delete(f.drafts, id)
	} else {
		f.drafts[id] = text
	}
	return nil
}

func (f *fakeCore) Subscribe() (<-chan inbox.Change, func()) { return f.ch, func() {} }

func (f *fakeCore) Conversations(after inbox.Cursor, limit int) ([]inbox.Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.convCalls = append(f.convCalls, limit)
	start := 0
	if after.ID != 0 {
		for i, c := range f.convs {
			if int64(c.ID) == after.ID {
				start = i + 1
			}
		}
	}
	end := min(start+limit, len(f.convs))
	return append([]inbox.Conversation(nil), f.convs[start:end]...), nil
}

func (f *fakeCore) Conversation(id inbox.ConversationID) (inbox.Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.convs {
		if c.ID == id {
			return c, nil
		}
	}
	return inbox.Conversation{}, inbox.ErrNotFound
}

func (f *fakeCore) Messages(id inbox.ConversationID, before inbox.Cursor, limit int) ([]inbox.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgCalls = append(f.msgCalls, before)
	all := f.msgs[id]
	end := len(all)
	if before.ID != 0 {
		end = sort.Search(len(all), func(i int) bool { return int64(all[i].ID) >= before.ID })
	}
	start := max(end-limit, 0)
	return append([]inbox.Message(nil), all[start:end]...), nil
}

func (f *fakeCore) Person(id inbox.PersonID) (inbox.Person, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.people[id]
	if !ok {
		return p, inbox.ErrNotFound
	}
	p.Preferred, p.AllowDowngrade = f.preferred[id], f.allow[id]
	return p, nil
}

// PlanRoute is a small stand-in for the core's plan (the real one is
// tested in inbox and, through the TUI, in route_test.go): the pick, the
// answered message's account, else the best online route, else the best;
// weaker than the best needs an OK unless the person's rule allows it.
func (f *fakeCore) PlanRoute(_ context.Context, id inbox.ConversationID, o inbox.RouteOptions) (inbox.RoutePlan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.planned = append(f.planned, o)
	rs := append([]inbox.Route(nil), f.routes[id]...)
	if len(rs) == 0 {
		return inbox.RoutePlan{}, inbox.ErrNoRoute
	}
	p := inbox.RoutePlan{Conversation: id, Routes: rs, Best: rs[0], Route: rs[0]}
	switch {
	case o.Route != nil:
		p.Route, p.Picked = *o.Route, true
	case o.ReplyTo != 0 && f.msgAccount(id, o.ReplyTo) != "":
		for _, r := range rs {
			if r.Account == f.msgAccount(id, o.ReplyTo) {
				p.Route, p.Kind = r, inbox.PlanReply
				break
			}
		}
	default:
		for _, r := range rs {
			if r.Online {
				p.Route = r
				break
			}
		}
	}
	p.Downgrade = p.Route.Encryption < rs[0].Encryption
	p.NeedsOK = p.Downgrade && !f.allow[f.personOf(id)]
	p.Queued = !p.Route.Online && !p.NeedsOK
	return p, nil
}

func (f *fakeCore) msgAccount(conv inbox.ConversationID, id inbox.MessageID) string {
	for _, m := range f.msgs[conv] {
		if m.ID == id {
			return m.Account
		}
	}
	return ""
}

func (f *fakeCore) personOf(conv inbox.ConversationID) inbox.PersonID {
	for _, c := range f.convs {
		if c.ID == conv {
			return c.Person
		}
	}
	return 0
}

func (f *fakeCore) Send(ctx context.Context, req inbox.SendRequest) (inbox.Message, error) {
	if req.EditOf != 0 {
		return inbox.Message{ID: req.EditOf, Conversation: req.Conversation, Body: req.Body}, f.Edit(ctx, req.EditOf, req.Body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		if err := f.sendErr(req); err != nil {
			return inbox.Message{}, err
		}
	}
	f.sent = append(f.sent, req)
	state := inbox.StateSent
	if req.Queue {
		state = inbox.StateQueued
	}
	all := f.msgs[req.Conversation]
	m := inbox.Message{ID: inbox.MessageID(10000 + len(f.sent)), Conversation: req.Conversation, Outgoing: true,
		Body: req.Body, At: testNow, State: state, Network: protocols.Matrix, Encryption: protocols.EncE2EE}
	f.msgs[req.Conversation] = append(all, m)
	return m, nil
}

func (f *fakeCore) Retry(_ context.Context, id inbox.MessageID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retried = append(f.retried, id)
	return nil
}

func (f *fakeCore) Requests() ([]inbox.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []inbox.Request
	for _, r := range f.reqs {
		if _, done := f.decided[r.Conversation]; !done {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeCore) Decide(_ context.Context, id inbox.ConversationID, d inbox.Decision) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decided[id] = d
	return nil
}

func (f *fakeCore) MarkRead(_ context.Context, id inbox.ConversationID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marked = append(f.marked, id)
	return nil
}

func (f *fakeCore) SetTyping(_ context.Context, _ inbox.ConversationID, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.typing = append(f.typing, on)
	return nil
}

func (f *fakeCore) Search(q string, limit int) ([]inbox.SearchHit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.searches = append(f.searches, q)
	var out []inbox.SearchHit
	for _, h := range f.hits {
		if strings.Contains(strings.ToLower(h.Message.Body), strings.ToLower(q)) {
			out = append(out, h)
		}
	}
	return out, nil
}

func (f *fakeCore) MergeSuggestions() ([]inbox.MergeSuggestion, error) { return f.sugg, nil }

func (f *fakeCore) Merge(keep, into inbox.PersonID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.merged = append(f.merged, [2]inbox.PersonID{keep, into})
	return nil
}

func (f *fakeCore) SetPreferred(p inbox.PersonID, n protocols.Network) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.preferred[p] = n
	return nil
}

func (f *fakeCore) SetAllowDowngrade(p inbox.PersonID, allow bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allow[p] = allow
	return nil
}

func (f *fakeCore) AccountStates() []inbox.AccountState { return f.accounts }

// world fills a fake with n conversations and a few messages in the first.
func world(n int) *fakeCore {
	f := newFakeCore()
	for i := 1; i <= n; i++ {
		f.convs = append(f.convs, inbox.Conversation{
			ID: inbox.ConversationID(i), Kind: inbox.Direct, Person: inbox.PersonID(i),
			Title: "Contact " + itoa(int64(i)), Networks: []protocols.Network{protocols.Matrix},
			Preview: "hello " + itoa(int64(i)), LastAt: testNow.Add(-time.Duration(i) * time.Minute),
		})
	}
	f.accounts = []inbox.AccountState{{Account: "me@matrix", Network: protocols.Matrix, State: protocols.ConnOnline}}
	return f
}
