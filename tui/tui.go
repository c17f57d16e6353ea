// Package tui is Polyglot's terminal interface: one Bubble Tea program whose
// root model owns a child model per screen (inbox list, conversation with
// composer, requests, person, search, help overlay). It reads state from the
// core through the Core interface inside tea.Cmds and sends intents back;
// View never does I/O and draws every remote string through tui/sanitize.
package tui

import (
	"context"
	"io"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/rs/zerolog"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/themes"
)

// Core is the part of *inbox.Inbox the TUI uses. Every call happens inside a
// tea.Cmd, never in View.
type Core interface {
	Subscribe() (<-chan inbox.Change, func())
	Conversations(after inbox.Cursor, limit int) ([]inbox.Conversation, error)
	Conversation(id inbox.ConversationID) (inbox.Conversation, error)
	Messages(id inbox.ConversationID, before inbox.Cursor, limit int) ([]inbox.Message, error)
	Person(id inbox.PersonID) (inbox.Person, error)
	Routes(id inbox.ConversationID) ([]inbox.Route, error)
	Send(ctx context.Context, req inbox.SendRequest) (inbox.Message, error)
	Retry(ctx context.Context, id inbox.MessageID) error
	Requests() ([]inbox.Request, error)
	Decide(ctx context.Context, id inbox.ConversationID, d inbox.Decision) error
	MarkRead(ctx context.Context, id inbox.ConversationID) error
	SetTyping(ctx context.Context, id inbox.ConversationID, typing bool) error
	Search(query string, limit int) ([]inbox.SearchHit, error)
	MergeSuggestions() ([]inbox.MergeSuggestion, error)
	Merge(keep, into inbox.PersonID) error
	SetPreferred(p inbox.PersonID, n protocols.Network) error
	SetAllowDowngrade(p inbox.PersonID, allow bool) error
	AccountStates() []inbox.AccountState
	// MessageActions: open, edit, react to and delete one message.
	MessageActions
}

// AccountStatus is one account's line in the status bar and the accounts
// screen.
type AccountStatus struct {
	Account string
	Network protocols.Network
	// Address is the account's own address; empty: Account is shown.
	Address string
	// State is the short text shown: "online", "connecting", "offline",
	// "retrying" (the supervisor's back-off), "login needed" (the
	// supervisor's auth failure; the inbox says "auth failed"), "disabled".
	State  string
	Detail string
	// NextRetry is when a "retrying" account tries again; the accounts
	// screen counts down to it.
	NextRetry time.Time
}

// AccountsView is the optional richer source of account states (the
// accounts supervisor knows about back-off, the inbox only sees links).
type AccountsView interface {
	AccountStatuses() []AccountStatus
}

// AccountsControl lets the accounts screen change accounts (the cmd wires
// *accounts.Manager in). Every call happens inside a tea.Cmd. Relogin must
// not keep secret after it returns: the TUI zeroes it then.
type AccountsControl interface {
	AccountsView
	Enable(id string) error
	Disable(id string) error
	Remove(id string) error
	Relogin(id string, secret []byte) error
}

// Options are the TUI's injected dependencies.
type Options struct {
	Core     Core
	Theme    *themes.Theme // nil: the built-in default theme
	Accounts AccountsView  // optional
	// Control is optional: nil (the demo) makes the accounts screen
	// read-only. When Accounts is nil, Control also supplies the states.
	Control AccountsControl
	Logger  zerolog.Logger
	// Now is the clock for relative times and day separators (tests fix it).
	Now func() time.Time
	// Context bounds the intents sent to the core; Run sets it.
	Context context.Context
	// PageSize is how many rows one store read fetches (default 50).
	PageSize int
	// Notify says how new messages are announced (bell, title, desktop);
	// the zero value announces nothing.
	Notify NotifySettings
	// Terminal receives bells and desktop-notification sequences; Run sets
	// it to the writer the renderer uses (tests give a buffer).
	Terminal io.Writer
	// Tmux wraps desktop notifications in tmux passthrough; Run sets it
	// from $TMUX.
	Tmux bool
}

// Run starts the program on the terminal (alt screen, mouse cell motion) and
// returns when the user quits or ctx ends.
func Run(ctx context.Context, opts Options) error {
	opts.Context = ctx
	// One writer for frames and notifications, so neither splices the other.
	term := NewTerminal(os.Stdout)
	opts.Terminal, opts.Tmux = term, os.Getenv("TMUX") != ""
	m := newRoot(opts)
	defer m.close()
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithAltScreen(), tea.WithMouseCellMotion(), tea.WithOutput(term)}
	if opts.Notify.alerts() {
		popts = append(popts, tea.WithReportFocus())
	}
	if opts.Notify.title() {
		_, _ = io.WriteString(term, pushTitle)
		defer io.WriteString(term, popTitle)
	}
	p := tea.NewProgram(m, popts...)
	_, err := p.Run()
	if err == tea.ErrProgramKilled && ctx.Err() != nil {
		return nil
	}
	return err
}

// New builds the root model without a program, for tests and embedding.
// The caller stops the change subscription by sending tea.Quit or by calling
// Close on the returned model if it implements io.Closer.
func New(opts Options) tea.Model { return newRoot(opts) }
