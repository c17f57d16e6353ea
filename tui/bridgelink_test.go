package tui

import (
	"context"
	"strings"
	"testing"

	"polyglot/inbox"
	"polyglot/protocols"
)

// The link form (L) and the header's link lines, over the real store of
// golden_test.go's world: Ada on Matrix (E2EE verified) and XMPP (TLS
// only), Bob on WhatsApp (E2EE), a stranger's request on XMPP.

// bridgeWorld is the real world plus a Matrix room, "Lab".
func bridgeWorld(t *testing.T) (*realWorld, inbox.ConversationID, inbox.ConversationID) {
	t.Helper()
	w := newRealWorld(t)
	bob, err := w.in.FindConversation(bobWA.Key())
	if err != nil {
		t.Fatalf("find Bob: %v", err)
	}
	lab := protocols.Chat{ID: "!lab:example.org", Group: true, Name: "Lab"}
	w.ingest(t, "mx", protocols.ChatEvent{Chat: lab, Encryption: protocols.EncE2EE, Members: []protocols.Address{adaMX}})
	labID, err := w.in.FindConversation("matrix:!lab:example.org")
	if err != nil {
		t.Fatalf("find Lab: %v", err)
	}
	return w, bob, labID
}

// openHistory opens conversation id with the keyboard on its history (the
// composer has it first), where L acts.
func openHistory(h *harness, id inbox.ConversationID) {
	h.send(openConversationMsg{ID: id})
	h.keys("esc")
}

// leg is conversation conv's leg on network n.
func leg(t *testing.T, in *inbox.Inbox, conv inbox.ConversationID, n protocols.Network) inbox.BridgeLeg {
	t.Helper()
	legs, err := in.BridgeLegs(conv)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range legs {
		if l.Network == n {
			return l
		}
	}
	t.Fatalf("conversation %d has no %s leg: %+v", conv, n, legs)
	return inbox.BridgeLeg{}
}

func bridges(t *testing.T, in *inbox.Inbox) []inbox.BridgeLink {
	t.Helper()
	ls, err := in.Bridges()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// flat is the frame with the modal's borders and line breaks taken out,
// so a sentence wrapped over lines reads as one.
func flat(frame string) string {
	frame = strings.NewReplacer("│", " ", "╭", " ", "╮", " ", "╰", " ", "╯", " ", "─", " ").Replace(frame)
	return strings.Join(strings.Fields(frame), " ")
}

func TestLinkPickConfirmCreatesLinkAndHeaderShowsIt(t *testing.T) {
	w, bob, _ := bridgeWorld(t)
	h := newHarness(t, w.in, 120, 30)
	openHistory(h, bob)
	h.keys("L")
	// Bob has one leg (WhatsApp): the picker comes at once, listing Ada's
	// two legs (both on other networks), not the XMPP request.
	h.mustShow("Link conversations", "this", "Bob", "WhatsApp", "Ada Lovelace", "@ada:example.org", "ada@jabber.example")
	h.mustNotShow("mallory")
	h.typeText("matr")
	h.mustShow("@ada:example.org")
	h.mustNotShow("ada@jabber.example")
	h.keys("enter")
	h.mustShow("with", "Ada Lovelace", "E2EE verified", "the weaker leg's", "[y] link", "[n] cancel")
	h.mustNotShow("Weaker encryption")
	if n := len(bridges(t, w.in)); n != 0 {
		t.Fatalf("%d links before the user said yes", n)
	}
	h.keys("y")
	ls := bridges(t, w.in)
	if len(ls) != 1 {
		t.Fatalf("after y: %d links, want 1", len(ls))
	}
	l := ls[0]
	if l.A.Conversation != bob || l.A.Network != protocols.WhatsApp || l.B.Network != protocols.Matrix || l.B.Address != adaMX.ID || l.Weaker {
		t.Fatalf("linked %+v", l)
	}
	if h.m.link != nil {
		t.Fatal("the form stays open after linking")
	}
	h.mustShow("linked with Ada Lovelace on Matrix: a notice goes into both conversations first")
	h.mustShow("⇄ linked with Ada Lovelace on Matrix · E2EE · " + l.State)
	frame := h.view()
	assertInert(t, frame)

	// The other side's header shows it too, naming its leg (Ada has two).
	h.keys("esc")
	openHistory(h, w.ada)
	h.mustShow("⇄ linked with Bob on WhatsApp (from its Matrix leg) · E2EE")
}

func TestLinkWeakerEncryptionNeedsExplicitYes(t *testing.T) {
	w, bob, _ := bridgeWorld(t)
	h := newHarness(t, w.in, 200, 30)
	openHistory(h, bob)
	h.keys("L")
	h.typeText("xmpp")
	h.keys("enter")
	f := flat(h.view())
	for _, want := range []string{"Weaker encryption",
		"Messages from an end-to-end encrypted conversation would be relayed onto a leg that is not end-to-end encrypted",
		"would go out on XMPP — TLS only, servers can read it", "[y] link anyway", "[n] cancel", "TLS only — the weaker leg's"} {
		if !strings.Contains(f, want) {
			t.Fatalf("the plan lacks %q:\n%s", want, h.view())
		}
	}
	// Enter is no yes.
	h.keys("enter")
	if n := len(bridges(t, w.in)); n != 0 {
		t.Fatalf("enter linked (%d links)", n)
	}
	h.keys("n")
	if n := len(bridges(t, w.in)); n != 0 {
		t.Fatalf("cancel linked (%d links)", n)
	}
	if h.m.link != nil {
		t.Fatal("cancel leaves the form open")
	}
	h.mustShow("not linked: nothing was posted or relayed")
	h.mustNotShow("⇄ linked")

	// The explicit yes links, marked weaker.
	h.keys("L")
	h.typeText("xmpp")
	h.keys("enter", "y")
	ls := bridges(t, w.in)
	if len(ls) != 1 || !ls[0].Weaker || ls[0].Weakest != protocols.EncTransport {
		t.Fatalf("after the yes: %+v", ls)
	}
	h.mustShow("⇄ linked with Ada Lovelace on XMPP · TLS only")
}

func TestLinkWeakerGolden(t *testing.T) {
	w, bob, _ := bridgeWorld(t)
	h := newHarness(t, w.in, 80, 24)
	openHistory(h, bob)
	h.keys("L")
	h.typeText("xmpp")
	h.keys("enter")
	frame := h.view()
	assertInert(t, frame)
	golden(t, "linkweaker", frame)
}

// A link that would close a circle (Bob–Ada, Ada–Lab, then Lab–Bob) is
// refused, the refusal shown in plain words, and nothing is stored.
func TestLinkCycleIsRefusedWithTheReason(t *testing.T) {
	w, bob, lab := bridgeWorld(t)
	ctx := context.Background()
	if _, err := w.in.AddBridge(ctx, leg(t, w.in, bob, protocols.WhatsApp), leg(t, w.in, w.ada, protocols.Matrix), false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.in.AddBridge(ctx, leg(t, w.in, w.ada, protocols.XMPP), leg(t, w.in, lab, protocols.Matrix), true); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, w.in, 160, 30)
	openHistory(h, lab)
	h.mustShow("⇄ linked with Ada Lovelace on XMPP · TLS only")
	h.keys("L")
	// Lab has one leg and one link: the menu offers both.
	h.mustShow("Link through Matrix", "Unlink ⇄ linked with Ada Lovelace on XMPP")
	h.keys("enter") // link through Matrix
	h.typeText("bob")
	h.keys("enter")
	f := flat(h.view())
	for _, want := range []string{"Cannot link", "already connected through links", "relay messages around in a circle"} {
		if !strings.Contains(f, want) {
			t.Fatalf("the refusal lacks %q:\n%s", want, h.view())
		}
	}
	h.mustNotShow("[y] link")
	h.keys("y") // no yes to a refusal: back to the list
	if n := len(bridges(t, w.in)); n != 2 {
		t.Fatalf("%d links after the refusal, want 2", n)
	}
	h.mustShow("filter")
	assertInert(t, h.view())
}

func TestUnlinkAsksThenRemoves(t *testing.T) {
	w, bob, _ := bridgeWorld(t)
	if _, err := w.in.AddBridge(context.Background(), leg(t, w.in, bob, protocols.WhatsApp), leg(t, w.in, w.ada, protocols.Matrix), false); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, w.in, 120, 30)
	openHistory(h, bob)
	h.mustShow("⇄ linked with Ada Lovelace on Matrix · E2EE")
	h.keys("L")
	h.mustShow("Link through WhatsApp", "Unlink ⇄ linked with Ada Lovelace on Matrix")
	h.keys("down", "enter")
	h.mustShow("Unlink from Ada Lovelace on Matrix?", "[y] unlink", "[n] keep the link")
	h.keys("n")
	if n := len(bridges(t, w.in)); n != 1 {
		t.Fatalf("keeping the link removed it (%d links)", n)
	}
	h.keys("enter", "y")
	if n := len(bridges(t, w.in)); n != 0 {
		t.Fatalf("after unlink: %d links", n)
	}
	h.mustShow("unlinked from Ada Lovelace on Matrix")
	h.mustNotShow("⇄ linked")
}

// Links made or removed elsewhere (the CLI, another screen) reach the open
// conversation's header through ChangeBridges.
func TestLinkHeaderFollowsChangeBridges(t *testing.T) {
	w, bob, _ := bridgeWorld(t)
	h := newHarness(t, w.in, 120, 30)
	openHistory(h, bob)
	h.mustNotShow("⇄")
	l, err := w.in.AddBridge(context.Background(), leg(t, w.in, bob, protocols.WhatsApp), leg(t, w.in, w.ada, protocols.XMPP), true)
	if err != nil {
		t.Fatal(err)
	}
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeBridges}}})
	h.mustShow("⇄ linked with Ada Lovelace on XMPP · TLS only")
	// Its account going offline pauses it, and the header says so.
	w.ingest(t, "xm", protocols.ConnectionEvent{State: protocols.ConnOffline})
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeAccounts}}})
	h.mustShow("paused: XMPP is offline")
	if err := w.in.RemoveBridge(l.ID); err != nil {
		t.Fatal(err)
	}
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeBridges}}})
	h.mustNotShow("⇄")
}

// A hostile group name reaches the header and the picker inert.
func TestLinkTitlesAreSanitized(t *testing.T) {
	w, _, _ := bridgeWorld(t)
	group := protocols.Chat{ID: "120363000000000666@g.us", Group: true, Name: "Family \x1b]0;pwned\x07\x1b[2J"}
	w.ingest(t, "wa", protocols.ChatEvent{Chat: group, Encryption: protocols.EncE2EE, Members: []protocols.Address{bobWA}})
	fam, err := w.in.FindConversation("whatsapp:" + string(group.ID))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, w.in, 120, 30)
	openHistory(h, w.ada)
	h.keys("L", "enter") // through Matrix
	h.mustShow("Family ␛]0;pwned␇")
	assertInert(t, h.view())
	h.keys("esc", "esc")
	if _, err := w.in.AddBridge(context.Background(), leg(t, w.in, fam, protocols.WhatsApp), leg(t, w.in, w.ada, protocols.Matrix), false); err != nil {
		t.Fatal(err)
	}
	h.send(changesMsg{Changes: []inbox.Change{{Kind: inbox.ChangeBridges}}})
	h.mustShow("⇄ linked with Family ␛]0;pwned␇")
	assertInert(t, h.view())
}

// L is rebindable like every key; the old key then does nothing.
func TestLinkKeyRebinds(t *testing.T) {
	w, bob, _ := bridgeWorld(t)
	km, err := BindKeys(map[string]string{"link": "ctrl+l"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, Options{Core: w.in, Keys: km}, 120, 30)
	openHistory(h, bob)
	h.keys("L")
	if h.m.link != nil {
		t.Fatal("L still opens the form after [keys] link = ctrl+l")
	}
	h.keys("ctrl+l")
	h.mustShow("Link conversations")

	// With the default keys, L in the composer is a letter.
	d := newHarness(t, w.in, 120, 30)
	d.send(openConversationMsg{ID: bob})
	d.keys("L")
	if d.m.link != nil || d.m.conv.composer.value() != "L" {
		t.Fatalf("L in the composer opened the form or did not type (%q)", d.m.conv.composer.value())
	}
}

// A stranger's message request is neither linked (no notice goes to
// someone the user has not answered) nor offered in the picker.
func TestLinkRefusesARequest(t *testing.T) {
	w, _, _ := bridgeWorld(t)
	req, err := w.in.FindConversation(evil.Key())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, w.in, 120, 30)
	h.send(openConversationMsg{ID: req}) // a request opens on its history
	h.mustShow("mallory")
	h.keys("L")
	if h.m.link != nil {
		t.Fatal("L opened the link form on a message request")
	}
	h.mustShow("a message request cannot be linked: accept it first")
}

// The header of a conversation with two links, one of them weaker than
// end-to-end encryption.
func TestLinkHeaderGolden(t *testing.T) {
	w, bob, lab := bridgeWorld(t)
	ctx := context.Background()
	if _, err := w.in.AddBridge(ctx, leg(t, w.in, w.ada, protocols.Matrix), leg(t, w.in, bob, protocols.WhatsApp), false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.in.AddBridge(ctx, leg(t, w.in, w.ada, protocols.XMPP), leg(t, w.in, lab, protocols.Matrix), true); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, w.in, 80, 24)
	openHistory(h, w.ada)
	h.mustShow("⇄ linked with Bob on WhatsApp (from its Matrix leg) · E2EE · active",
		"⇄ linked with Lab on Matrix (from its XMPP leg) · TLS only · active")
	frame := h.view()
	assertInert(t, frame)
	golden(t, "linkheader", frame)
}
