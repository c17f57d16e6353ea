package tui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is one screen's key bindings, grouped by the screen they work on,
// so the help overlay can list exactly what the handlers check. Each root
// model has its own (Options.Keys): two screens served by one core can bind
// different keys. Build one with BindKeys.
type KeyMap struct {
	// global
	Help    key.Binding
	Quit    key.Binding
	Back    key.Binding
	Suspend key.Binding

	// lists
	Up       key.Binding
	Down     key.Binding
	Top      key.Binding
	Bottom   key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Open     key.Binding
	Requests key.Binding
	Search   key.Binding
	Person   key.Binding
	Inbox    key.Binding

	// conversation
	Compose    key.Binding
	Send       key.Binding
	Newline    key.Binding
	Route      key.Binding
	Retry      key.Binding
	LeaveInput key.Binding
	// Link links the conversation with one on another network (a
	// client-side bridge), or unlinks it.
	Link key.Binding

	// the selected message (history focus)
	OpenAttachment key.Binding
	Reply          key.Binding
	EditMessage    key.Binding
	React          key.Binding
	DeleteMessage  key.Binding
	RevealSpoiler  key.Binding
	Copy           key.Binding
	OpenLink       key.Binding
	Editor         key.Binding
	AttachFile     key.Binding

	// unread and new conversations (inbox list and conversation)
	NextUnread      key.Binding
	PrevUnread      key.Binding
	NewConversation key.Binding

	// requests
	Accept  key.Binding
	Block   key.Binding
	Ignore  key.Binding
	Unblock key.Binding

	// person
	Prefer      key.Binding
	NoPrefer    key.Binding
	Downgrade   key.Binding
	Merge       key.Binding
	FindContact key.Binding

	// accounts
	Accounts      key.Binding
	ToggleAccount key.Binding
	RemoveAccount key.Binding
	Relogin       key.Binding
	AddAccount    key.Binding
	RetryNow      key.Binding

	// key verification
	Verify       key.Binding
	VerifyAccept key.Binding
	Dismiss      key.Binding

	// prompts
	Yes         key.Binding
	No          key.Binding
	AlwaysAllow key.Binding
	Wait        key.Binding
}

// defaultKeys is the key map without overrides; a new value each call, so
// no screen's rebinding reaches another.
func defaultKeys() KeyMap {
	return KeyMap{
		Help:    key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "toggle this help")),
		Quit:    key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q/ctrl+c", "quit (q from lists; ctrl+c asks first over a draft)")),
		Back:    key.NewBinding(key.WithKeys("esc", "h", "left"), key.WithHelp("esc/h/←", "back")),
		Suspend: key.NewBinding(key.WithKeys("ctrl+z"), key.WithHelp("ctrl+z", "suspend to the shell (fg comes back)")),

		Up:       key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("k/↑", "up")),
		Down:     key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("j/↓", "down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g/home", "first / oldest")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G/end", "last / newest")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u", "ctrl+b"), key.WithHelp("pgup/ctrl+u", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d", "ctrl+f"), key.WithHelp("pgdn/ctrl+d", "page down")),
		Open:     key.NewBinding(key.WithKeys("enter", "l", "right"), key.WithHelp("enter/l/→", "open")),
		Requests: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "message requests")),
		Search:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Person:   key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "person: identities, routing")),
		Inbox:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "switch Inbox / Requests tab")),

		Compose:    key.NewBinding(key.WithKeys("i", "a", "enter"), key.WithHelp("i/enter", "write a message")),
		Send:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "send")),
		Newline:    key.NewBinding(key.WithKeys("alt+enter"), key.WithHelp("alt+enter", "new line")),
		Route:      key.NewBinding(key.WithKeys("ctrl+r", "tab"), key.WithHelp("ctrl+r/tab", "next route for the next message")),
		Retry:      key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "retry newest failed message")),
		LeaveInput: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "drop the reply/edit, else leave the composer (draft kept)")),
		Link:       key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "link with a conversation on another network (bridge), or unlink")),

		OpenAttachment: key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "open the attachment (downloads it, then $POLYGLOT_OPENER / xdg-open)")),
		Reply:          key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reply to the selected message")),
		EditMessage:    key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit your selected message")),
		React:          key.NewBinding(key.WithKeys("+"), key.WithHelp("+", "react: 1–6 or type an emoji; the same again takes it back")),
		DeleteMessage:  key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete your selected message for everyone (asks y/n)")),
		RevealSpoiler:  key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "show / hide the spoilers in the selected message")),
		Copy:           key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy the selected message's text (OSC 52 clipboard)")),
		OpenLink:       key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "open the first link in the selected message")),
		Editor:         key.NewBinding(key.WithKeys("ctrl+e"), key.WithHelp("ctrl+e", "write the draft in $VISUAL / $EDITOR")),
		AttachFile:     key.NewBinding(key.WithKeys("ctrl+a"), key.WithHelp("ctrl+a", "send a file: path (tab completes), then caption")),

		NextUnread:      key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next conversation with unread messages")),
		PrevUnread:      key.NewBinding(key.WithKeys("["), key.WithHelp("[", "previous conversation with unread messages")),
		NewConversation: key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new conversation: an address, or a room to join")),

		Accept:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "accept request")),
		Block:   key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "block sender (asks y/n)")),
		Ignore:  key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "ignore request")),
		Unblock: key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "unblock / unignore (Requests, person)")),

		Prefer:      key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "prefer selected identity's network")),
		NoPrefer:    key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "clear preferred network")),
		Downgrade:   key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "toggle: allow downgrade without asking")),
		Merge:       key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "merge with suggested person, or add a found address (asks y/n)")),
		FindContact: key.NewBinding(key.WithKeys("F"), key.WithHelp("F", "ask your networks whether they know this person (asks y/n; one lookup)")),

		Accounts:      key.NewBinding(key.WithKeys("A"), key.WithHelp("A", "accounts: states, add, enable, remove, re-login")),
		ToggleAccount: key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "enable / disable account")),
		RemoveAccount: key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "remove account (asks y/n)")),
		Relogin:       key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "log in again: type the password")),
		AddAccount:    key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add an account (form: tab moves, enter adds)")),
		RetryNow:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retry now (any key here, or the terminal regaining focus, also does)")),

		Verify:       key.NewBinding(key.WithKeys("V"), key.WithHelp("V", "verify keys (emoji, or WhatsApp's security code), or answer a request")),
		VerifyAccept: key.NewBinding(key.WithKeys("a", "enter"), key.WithHelp("a/enter", "accept their verification request")),
		Dismiss:      key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "dismiss a finished verification")),

		Yes:         key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes / send this one")),
		No:          key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "no / cancel")),
		AlwaysAllow: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "always allow for this person")),
		Wait:        key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "wait for the encrypted route (queue)")),
	}
}

// helpSection is one titled group of the help overlay.
type helpSection struct {
	Title    string
	Bindings []key.Binding
}

func helpSections(k *KeyMap) []helpSection {
	return []helpSection{
		{"Everywhere", []key.Binding{k.Help, k.Quit, k.Suspend, k.Back, k.Accounts, k.Verify}},
		{"Inbox", []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown, k.Open, k.NextUnread, k.PrevUnread, k.NewConversation,
			k.Requests, k.Search, k.Person, k.Inbox}},
		{"Conversation (esc from the composer; j/k select a message)", []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom,
			k.OpenAttachment, k.Reply, k.EditMessage, k.React, k.DeleteMessage, k.RevealSpoiler, k.Copy, k.OpenLink,
			k.NextUnread, k.PrevUnread, k.Compose, k.Person, k.Retry, k.Link, k.Back}},
		{"Composer", []key.Binding{k.Send, k.Newline, k.Route, k.Editor, k.AttachFile, k.LeaveInput}},
		{"Requests", []key.Binding{k.Up, k.Down, k.Accept, k.Block, k.Ignore, k.Unblock, k.Open, k.Person}},
		{"Person", []key.Binding{k.Up, k.Down, k.Prefer, k.NoPrefer, k.Downgrade, k.Merge, k.FindContact, k.Unblock}},
		{"Accounts", []key.Binding{k.Up, k.Down, k.ToggleAccount, k.RemoveAccount, k.Relogin, k.AddAccount, k.RetryNow}},
		{"Key verification", []key.Binding{k.VerifyAccept,
			key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "the emoji match")),
			key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "they don't match / decline / cancel")),
			k.Dismiss, k.Up, k.Down}},
		{"Add account form", []key.Binding{
			key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab/shift+tab", "next / previous field")),
			key.NewBinding(key.WithKeys("left", "right"), key.WithHelp("←/→", "change network")),
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter/ctrl+s", "add (enter on the password field)")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel and forget what was typed")),
		}},
		{"New conversation (n)", []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open it (a room is joined first)")),
			key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓ ctrl+p/n", "choose a matching contact")),
			key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "another account on that network")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		}},
		{"Search", []key.Binding{
			key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓ ctrl+p/n", "select result")),
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open conversation")),
		}},
		{"Link (" + keyName(k.Link) + " in a conversation)", []key.Binding{
			key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓ ctrl+p/n", "choose a leg, a link to remove, or the conversation to link with")),
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "choose; type to filter the conversations")),
			key.NewBinding(key.WithKeys(k.Yes.Keys()...), key.WithHelp(k.Yes.Help().Key, "link / unlink, once the plan or the question is shown")),
			key.NewBinding(key.WithKeys(k.No.Keys()...), key.WithHelp(k.No.Help().Key, "cancel: nothing is linked or unlinked")),
		}},
		{"Downgrade prompt", []key.Binding{k.Yes, k.AlwaysAllow, k.Wait, key.NewBinding(key.WithKeys("n"), key.WithHelp("n/esc", "cancel, keep the draft"))}},
		{"Mouse", []key.Binding{key.NewBinding(key.WithKeys("wheel"), key.WithHelp("wheel", "scroll lists and history"))}},
	}
}
