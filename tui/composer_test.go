package tui

import (
	"errors"
	"testing"

	"polyglot/inbox"
)

func TestComposerEnterSendsAltEnterBreaksLine(t *testing.T) {
	f := chatWorld(3)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	h.typeText("line one")
	h.keys("alt+enter")
	h.typeText("line two")
	if len(f.sent) != 0 {
		t.Fatal("alt+enter must not send")
	}
	h.keys("enter")
	if len(f.sent) != 1 || f.sent[0].Body != "line one\nline two" || f.sent[0].Conversation != 1 {
		t.Fatalf("sent %+v", f.sent)
	}
	if f.sent[0].Route != nil {
		t.Fatal("without a pick the router chooses")
	}
	if h.m.conv.composer.value() != "" {
		t.Fatal("the composer should be empty after a successful send")
	}
	h.mustShow("line one", "line two", "You")
	h.keys("enter")
	if len(f.sent) != 1 {
		t.Fatal("enter on an empty composer must not send")
	}
}

func TestComposerPickedRouteIsSent(t *testing.T) {
	f := chatWorld(3)
	h := newHarness(t, f, 80, 24)
	h.keys("enter", "ctrl+r")
	h.typeText("via xmpp")
	h.keys("enter")
	if len(f.sent) != 1 || f.sent[0].Route == nil || f.sent[0].Route.Account != "xm" {
		t.Fatalf("sent %+v, want the picked XMPP route", f.sent)
	}
}

func TestComposerKeepsDraftOnError(t *testing.T) {
	f := chatWorld(3)
	f.sendErr = func(inbox.SendRequest) error { return errors.New("disk full") }
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	h.typeText("precious words")
	h.keys("enter")
	if got := h.m.conv.composer.value(); got != "precious words" {
		t.Fatalf("draft after a failed send: %q", got)
	}
	h.mustShow("not sent: disk full", "draft is kept")
}

func TestComposerEscLeavesAndKeepsDraft(t *testing.T) {
	f := chatWorld(3)
	h := newHarness(t, f, 80, 24)
	h.keys("enter")
	h.typeText("jk draft")
	h.keys("esc")
	if h.m.conv.focus != focusHistory || h.m.conv.composer.value() != "jk draft" {
		t.Fatal("esc should leave the composer and keep the draft")
	}
	h.keys("i")
	h.typeText("!")
	if h.m.conv.composer.value() != "jk draft!" {
		t.Fatalf("draft %q", h.m.conv.composer.value())
	}
}
