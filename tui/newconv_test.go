package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"polyglot/inbox"
	"polyglot/protocols"
)

// opened records OpenTarget calls on the fake; openErr refuses them.
type openCall struct {
	account string
	target  inbox.Target
}

var (
	fakeOpened  = map[*fakeCore][]openCall{}
	fakeOpenErr = map[*fakeCore]error{}
)

func (f *fakeCore) OpenTarget(_ context.Context, account string, t inbox.Target) (inbox.ConversationID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fakeOpened[f] = append(fakeOpened[f], openCall{account, t})
	if err := fakeOpenErr[f]; err != nil {
		return 0, err
	}
	id := inbox.ConversationID(100 + len(f.convs))
	kind := inbox.Direct
	if t.Room {
		kind = inbox.Group
	}
	f.convs = append(f.convs, inbox.Conversation{ID: id, Kind: kind, Title: t.ID, Networks: []protocols.Network{t.Network}})
	return id, nil
}

func TestNewConversationForm(t *testing.T) {
	f := world(3)
	f.accounts = []inbox.AccountState{
		{Account: "mx-work", Network: protocols.Matrix, State: protocols.ConnOffline},
		{Account: "mx-home", Network: protocols.Matrix, State: protocols.ConnOnline},
		{Account: "xm", Network: protocols.XMPP, State: protocols.ConnOnline},
	}
	h := newHarness(t, f, 100, 24)
	h.keys("n")
	h.mustShow("New conversation", "@name:server")

	// Not an address: said so, the text stays, nothing asked.
	h.typeText("bob")
	h.keys("enter")
	h.mustShow("not an address", "try @name:server")
	if got := h.m.newConv.input.Value(); got != "bob" {
		t.Fatalf("the form lost the input: %q", got)
	}
	// A network without an account.
	h.keys("backspace", "backspace", "backspace")
	h.typeText("+4915123456789")
	h.mustShow("WhatsApp: message 4915123456789@s.whatsapp.net — but you have no WhatsApp account")
	h.keys("enter")
	h.mustShow("you have no WhatsApp account")
	if len(fakeOpened[f]) != 0 {
		t.Fatalf("asked the core: %v", fakeOpened[f])
	}

	// A Matrix user: the online account first, tab picks the other.
	for range 14 {
		h.keys("backspace")
	}
	h.typeText("@zoe:example.org")
	h.mustShow("Matrix: message @zoe:example.org via mx-home · tab: 1 more")
	h.keys("tab")
	h.mustShow("via mx-work (offline)")
	h.keys("tab")
	h.mustShow("via mx-home")
	h.keys("enter")
	calls := fakeOpened[f]
	if len(calls) != 1 || calls[0].account != "mx-home" || calls[0].target != (inbox.Target{Network: protocols.Matrix, ID: "@zoe:example.org"}) {
		t.Fatalf("OpenTarget calls %+v", calls)
	}
	if h.m.newConv != nil || h.m.screen != screenConversation || h.m.conv.id != 103 {
		t.Fatalf("the conversation did not open (screen %v)", h.m.screen)
	}
	h.mustShow("@zoe:example.org")
}

func TestNewConversationRefusedKeepsTheInput(t *testing.T) {
	f := world(2)
	f.accounts = []inbox.AccountState{{Account: "xm", Network: protocols.XMPP, State: protocols.ConnOnline}}
	fakeOpenErr[f] = fmt.Errorf("xmpp: joining club@conference.example.org refused: \x1b[2Jforbidden")
	h := newHarness(t, f, 100, 24)
	h.keys("n")
	h.typeText("club@conference.example.org")
	h.mustShow("XMPP: join club@conference.example.org via xm")
	h.keys("enter")
	h.mustShow("refused: ␛[2Jforbidden")
	h.mustNotShow("\x1b[2J")
	if h.m.newConv == nil || h.m.newConv.input.Value() != "club@conference.example.org" {
		t.Fatal("a refused join closed the form or lost the address")
	}
	if c := fakeOpened[f]; len(c) != 1 || !c[0].target.Room {
		t.Fatalf("calls %+v", c)
	}
	fakeOpenErr[f] = fmt.Errorf("joining: %w", protocols.ErrNotConnected)
	h.keys("enter")
	h.mustShow("the account is offline")
	// Letters are typed, not keys of the list (q does not quit).
	h.typeText("q?")
	if h.quit || h.m.showHelp || h.m.newConv.input.Value() != "club@conference.example.orgq?" {
		t.Fatal("q or ? acted on the list behind the form")
	}
	h.keys("esc")
	if h.m.newConv != nil || h.quit {
		t.Fatal("esc did not just close the form")
	}
	h.mustShow("Contact 1")
}

// fakeContacts are what FindContacts searches on the fake.
var fakeContacts = map[*fakeCore][]inbox.ContactMatch{}

func (f *fakeCore) FindContacts(q string, limit int) ([]inbox.ContactMatch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q = strings.ToLower(q)
	var out []inbox.ContactMatch
	for _, c := range fakeContacts[f] {
		if len(out) < limit && (strings.Contains(strings.ToLower(c.Name), q) || strings.Contains(strings.ToLower(c.Address.ID), q)) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Typing a name lists matching contacts; enter opens the selected one: a
// contact without messages gets an empty conversation through the account
// that knows them, one with a conversation opens it.
func TestNewConversationFindsContacts(t *testing.T) {
	f := world(2)
	f.accounts = []inbox.AccountState{
		{Account: "xm", Network: protocols.XMPP, State: protocols.ConnOnline},
		{Account: "xm-old", Network: protocols.XMPP, State: protocols.ConnOnline},
	}
	xa := func(id string) protocols.Address {
		return protocols.Address{Network: protocols.XMPP, ID: id, Account: "xm-old"}
	}
	fakeContacts[f] = []inbox.ContactMatch{
		{Name: "Erin Mayer", Address: xa("erin@example.org"), Person: 7},
		{Name: "Eric\x1b[2J", Address: xa("eric@example.org"), Person: 1, Conversation: 1},
		{Name: "Joann", Address: xa("joann@example.org"), Person: 8},
	}
	h := newHarness(t, f, 100, 24)
	h.keys("n")
	h.mustShow("Erin Mayer", "Joann") // listed before anything is typed
	h.typeText("ERI")
	h.mustShow("Erin Mayer", "erin@example.org · no messages yet", "eric@example.org",
		"XMPP: start a conversation with Erin Mayer (erin@example.org)", "ctrl+p/n choose")
	h.mustShow("Eric␛[2J")
	h.mustNotShow("\x1b[2J", "Joann")
	h.send(tea.KeyMsg{Type: tea.KeyCtrlN})
	h.mustShow("XMPP: open Eric␛[2J (eric@example.org)")
	// A contact arriving meanwhile (a roster after login) is listed; the
	// selection stays on Eric.
	fakeContacts[f] = append([]inbox.ContactMatch{{Name: "Eriko", Address: xa("eriko@example.org"), Person: 9}}, fakeContacts[f]...)
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangePeople}}})
	h.mustShow("Eriko", "XMPP: open Eric␛[2J (eric@example.org)")
	h.keys("down", "up", "up", "up", "up") // stays within the list: "ERI" is no address
	h.mustShow("start a conversation with Eriko")
	h.keys("down")
	h.mustShow("start a conversation with Erin Mayer")
	h.keys("enter")
	calls := fakeOpened[f]
	if len(calls) != 1 || calls[0].account != "xm-old" || calls[0].target != (inbox.Target{Network: protocols.XMPP, ID: "erin@example.org"}) {
		t.Fatalf("OpenTarget calls %+v", calls)
	}
	if h.m.newConv != nil || h.m.screen != screenConversation {
		t.Fatal("Erin's new conversation did not open")
	}

	// A contact with a conversation opens it without asking the network.
	h.toInbox()
	h.keys("n")
	h.typeText("eric")
	h.keys("enter")
	if len(fakeOpened[f]) != 1 || h.m.screen != screenConversation || h.m.conv.id != 1 {
		t.Fatalf("Eric's conversation did not open (calls %+v)", fakeOpened[f])
	}

	// A complete address no contact has: enter goes to it; the contact
	// that contains it is one key down.
	h.toInbox()
	h.keys("n")
	h.typeText("ann@example.org")
	h.mustShow("Joann", "XMPP: message ann@example.org via xm")
	h.keys("down")
	h.mustShow("start a conversation with Joann")
	h.send(tea.KeyMsg{Type: tea.KeyCtrlP})
	h.mustShow("XMPP: message ann@example.org via xm")
	// Emptied, the list is every contact again, before any typing.
	for range len("ann@example.org") {
		h.keys("backspace")
	}
	h.mustShow("Eriko", "Erin Mayer", "Joann")
	h.mustNotShow("message ann@example.org")
}

// toInbox leaves the conversation (esc leaves the composer, then the
// screen).
func (h *harness) toInbox() {
	h.t.Helper()
	for range 3 {
		if h.m.screen == screenInbox {
			return
		}
		h.keys("esc")
	}
	h.t.Fatalf("esc did not lead back to the inbox:\n%s", h.view())
}

// TestNewConversationEnterWaitsForTheAnswer: enter typed before the
// contact lookup answered the input as typed (keys arrive in one burst)
// acts on that answer, never on a list that answered older input.
func TestNewConversationEnterWaitsForTheAnswer(t *testing.T) {
	f := world(2)
	f.accounts = []inbox.AccountState{{Account: "xm", Network: protocols.XMPP, State: protocols.ConnOnline}}
	fakeContacts[f] = []inbox.ContactMatch{
		{Name: "Nell", Address: protocols.Address{Network: protocols.XMPP, ID: "nell@example.org", Account: "xm"}, Person: 7},
	}
	h := newHarness(t, f, 100, 24)
	h.keys("n")
	// "n" is answered (Nell); the rest of the burst and enter come before
	// the lookups for "ne"… run.
	var pending []tea.Cmd
	hold := func(k tea.KeyMsg) {
		_, cmd := h.m.Update(k)
		pending = append(pending, cmd)
	}
	h.typeText("n")
	h.mustShow("Nell")
	for _, r := range "ewfriend" {
		hold(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	hold(tea.KeyMsg{Type: tea.KeyEnter})
	if len(fakeOpened[f]) != 0 || h.m.newConv == nil {
		t.Fatalf("enter opened %+v from a list that answered %q", fakeOpened[f], "n")
	}
	for _, c := range pending {
		h.run(c)
	}
	if len(fakeOpened[f]) != 0 {
		t.Fatalf("opened %+v for input that matches no one", fakeOpened[f])
	}
	h.mustShow("newfriend", "not an address")
}

// TestKeysAfterABurstWaitTheirTurn: "n" and an address arrive in one read
// (the form opens, a command), enter in the next; enter acts after the
// whole address is typed, never in the middle of it.
func TestKeysAfterABurstWaitTheirTurn(t *testing.T) {
	f := world(2)
	f.accounts = []inbox.AccountState{{Account: "xm", Network: protocols.XMPP, State: protocols.ConnOnline}}
	h := newHarness(t, f, 100, 24)
	_, first := h.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("nsomeone@")})
	if _, cmd := h.m.Update(tea.KeyMsg{Type: tea.KeyEnter}); cmd != nil {
		t.Fatal("enter acted before the burst before it was typed")
	}
	h.run(first)
	if v := h.m.newConv.input.Value(); v != "someone@" {
		t.Fatalf("the form holds %q", v)
	}
	h.mustShow("someone@", "name@server")
}
