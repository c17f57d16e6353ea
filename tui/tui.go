// Package tui is Polyglot's terminal interface: one Bubble Tea program whose
// root model owns a child model per screen (inbox list, conversation with
// composer, requests, person, search, help overlay). It reads state from the
// core through the Core interface inside tea.Cmds and sends intents back;
// View never does I/O and draws every remote string through tui/sanitize.
package tui

import (
	"context"
	"image"
	"io"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/rs/zerolog"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/themes"
	"polyglot/tui/thumbnail"
)

// Core is the part of *inbox.Inbox the TUI uses. Every call happens inside a
// tea.Cmd, never in View.
type Core interface {
	Subscribe() (<-chan inbox.Change, func())
	Conversations(after inbox.Cursor, limit int) ([]inbox.Conversation, error)
	Conversation(id inbox.ConversationID) (inbox.Conversation, error)
	Messages(id inbox.ConversationID, before inbox.Cursor, limit int) ([]inbox.Message, error)
	Person(id inbox.PersonID) (inbox.Person, error)
	// PlanRoute is how the next message (new, reply or edit) goes: the
	// route line shows it and Send follows it.
	PlanRoute(ctx context.Context, id inbox.ConversationID, opts inbox.RouteOptions) (inbox.RoutePlan, error)
	Send(ctx context.Context, req inbox.SendRequest) (inbox.Message, error)
	Retry(ctx context.Context, id inbox.MessageID) error
	Requests() ([]inbox.Request, error)
	Decide(ctx context.Context, id inbox.ConversationID, d inbox.Decision) error
	// Blocked lists what a block hid; Unblock takes a block or ignore back.
	Blocked() ([]inbox.Request, error)
	Unblock(p inbox.PersonID) (int, error)
	MarkRead(ctx context.Context, id inbox.ConversationID) error
	SetTyping(ctx context.Context, id inbox.ConversationID, typing bool) error
	Search(query string, limit int) ([]inbox.SearchHit, error)
	MergeSuggestions() ([]inbox.MergeSuggestion, error)
	Merge(keep, into inbox.PersonID) error
	SetPreferred(p inbox.PersonID, n protocols.Network) error
	SetAllowDowngrade(p inbox.PersonID, allow bool) error
	AccountStates() []inbox.AccountState
	// Draft and SetDraft keep what the user left unsent in a conversation.
	Draft(id inbox.ConversationID) (string, error)
	SetDraft(id inbox.ConversationID, text string) error
	// MessageActions: open, edit, react to and delete one message.
	MessageActions
}

// HistoryLoader is the optional part of a Core that fetches history older
// than the store holds from the servers (inbox.LoadOlder); the
// conversation view calls it when scrolling reaches the store's start.
type HistoryLoader interface {
	LoadOlder(ctx context.Context, id inbox.ConversationID, limit int) (int, error)
}

// AccountStatus is one account's line in the status bar and the accounts
// screen.
type AccountStatus struct {
	Account string
	Network protocols.Network
	// Address is the account's own address; empty: Account is shown.
	Address string
	State   AccountState
	Detail  string
	// NextRetry is when a "retrying" account tries again; the accounts
	// screen counts down to it.
	NextRetry time.Time
	// History is the first-login history fill running for the account;
	// nil when none runs.
	History *inbox.HistoryProgress
}

// HistoryReporter is the optional part of a Core that knows which
// accounts are filling their recent history (inbox.HistoryProgress).
type HistoryReporter interface {
	HistoryProgress() map[string]inbox.HistoryProgress
}

// AccountState is an account's state as the screens show it, from the
// supervisor (retrying, login needed, disabled), the keystore (unlocking,
// locked) or the connection itself.
type AccountState int

const (
	AccountOffline AccountState = iota
	AccountConnecting
	AccountOnline
	AccountRetrying    // waiting until NextRetry
	AccountLoginNeeded // a login was refused, or the keystore holds no secret
	AccountDisabled
	AccountUnlocking // the keystore is still opening
	AccountLocked    // the keystore did not open (Detail says why)
)

func (s AccountState) String() string {
	switch s {
	case AccountConnecting:
		return "connecting"
	case AccountOnline:
		return "online"
	case AccountRetrying:
		return "retrying"
	case AccountLoginNeeded:
		return "login needed"
	case AccountDisabled:
		return "disabled"
	case AccountUnlocking:
		return "unlocking"
	case AccountLocked:
		return "locked"
	}
	return "offline"
}

// ConnAccountState is the screen's state for a link state the core
// reports (no supervisor in between, as in the demo).
func ConnAccountState(s protocols.ConnState) AccountState {
	switch s {
	case protocols.ConnConnecting:
		return AccountConnecting
	case protocols.ConnOnline:
		return AccountOnline
	case protocols.ConnAuthFailed:
		return AccountLoginNeeded
	}
	return AccountOffline
}

// AccountsView is the optional richer source of account states (the
// accounts supervisor knows about back-off, the inbox only sees links).
type AccountsView interface {
	AccountStatuses() []AccountStatus
}

// AccountsRetrier is the optional part of an AccountsView that ends the
// accounts' back-off waits (the cmd wires *accounts.Manager in). The TUI
// calls it when the user is looking: a key on the accounts screen, or the
// terminal regaining focus. It runs in a tea.Cmd and must be cheap.
type AccountsRetrier interface {
	// ReconnectNow makes every account waiting to retry connect at once
	// and says how many there were.
	ReconnectNow() int
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

// AddAccountRequest is what the accounts screen's add form collects. The
// password travels apart from it, as bytes the TUI wipes after the call.
type AddAccountRequest struct {
	Network protocols.Network
	Address string
	// Server is an optional override: HOST:PORT for XMPP, a URL for Matrix
	// (the CLI's --server); empty discovers it.
	Server string
	// CAFile is an optional PEM file to trust for the server's TLS (the
	// CLI's --ca-file).
	CAFile string
}

// AccountsAdder is the optional part of a Control that adds accounts from
// the TUI; a Control without it keeps the screen pointing at the CLI. It is
// a separate interface so AccountsControl stays as it was.
type AccountsAdder interface {
	// AddNetworks lists the networks this build can add (has a connector
	// for). Cheap, no I/O beyond memory: the form calls it when it opens.
	AddNetworks() []protocols.Network
	// CheckAdd applies the CLI's and config.toml's rules to req without
	// touching the network (at most it looks for the CA file), so the form
	// can refuse a malformed address before any login. An *AddFieldError
	// names the field to fix.
	CheckAdd(req AddAccountRequest) error
	// AddAccount checks that the account can log in and only then saves it
	// and starts it; it returns the new account's ID. It runs in a tea.Cmd
	// and must not keep secret after it returns: the TUI zeroes it then.
	AddAccount(ctx context.Context, req AddAccountRequest, secret []byte) (string, error)
}

// AccountsLinker is the optional part of an AccountsAdder for networks
// that link Polyglot as a device of the user's phone (WhatsApp) instead of
// logging in with a password. Without it the form cannot offer them.
type AccountsLinker interface {
	// LinkAccount runs one linking attempt. It calls prompt, from its own
	// goroutine, with each QR code to show (codes rotate until one is
	// scanned) or, when req.Phone is set, with the pairing code to type on
	// the phone. Once the phone confirmed it saves and starts the account
	// and returns its ID; on an error, or ctx ending, nothing is saved.
	// It runs in a tea.Cmd's goroutine and may take minutes.
	LinkAccount(ctx context.Context, req LinkRequest, prompt func(LinkPrompt)) (string, error)
}

// LinkRequest is one linking attempt from the add form.
type LinkRequest struct {
	Network protocols.Network
	// Phone is the number to link by pairing code, as typed (+4915…);
	// empty links by QR code.
	Phone string
}

// LinkPrompt is what the phone needs to see: a QR code valid for Valid,
// or a pairing code. Both come from the network's servers: the form draws
// the QR code only as blocks and filters the pairing code.
type LinkPrompt struct {
	QR       string
	Valid    time.Duration
	PairCode string
}

// AddFieldError is a CheckAdd (or AddAccount) error about one field of the
// add form: Field is "network", "address", "server" or "ca_file".
type AddFieldError struct {
	Field string
	Err   error
}

func (e *AddFieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *AddFieldError) Unwrap() error { return e.Err }

// Options are the TUI's injected dependencies.
type Options struct {
	Core  Core
	Theme *themes.Theme // nil: the built-in default theme
	// Keys are this screen's bindings (BindKeys with config.toml's [keys]);
	// nil: the defaults. Screens never share a key map.
	Keys     *KeyMap
	Accounts AccountsView // optional
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
	// Demo says the core is the embedded demo world: the header says so,
	// and the add-account form can be tried (it adds nothing).
	Demo bool
	// Remote: the core serves this screen to another terminal (SSH,
	// attach), so nothing runs on the core's machine in its name: no
	// suspend, no $EDITOR, no opener.
	Remote bool
	// Images say how pictures in conversations are drawn; the zero value
	// draws none (a placeholder line).
	Images ImageOptions
}

// Run starts the program on the terminal (alt screen, mouse cell motion) and
// returns when the user quits or ctx ends.
func Run(ctx context.Context, opts Options) error {
	opts.Context = ctx
	// One writer for frames and notifications, so neither splices the other.
	term := NewTerminal(os.Stdout)
	opts.Terminal, opts.Tmux = term, os.Getenv("TMUX") != ""
	// Once, from the environment: never a terminal query.
	opts.Images.Protocol = thumbnail.Detect(opts.Images.Protocol, os.Getenv)
	if opts.Images.CellSize == nil {
		opts.Images.CellSize = func() image.Point { return cellSize(os.Stdout) }
	}
	m := newRoot(opts)
	defer m.close()
	// Focus reporting (mode 1004) is a mode set, not a query: the terminal
	// answers nothing until focus changes. It tells notifications when the
	// user is away and lets regaining focus end the accounts' back-off.
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithAltScreen(), tea.WithMouseCellMotion(),
		tea.WithOutput(term), tea.WithReportFocus()}
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

// NewProgram builds the program for a screen that is not this process's
// terminal (an SSH session): opts.Terminal is that screen's writer, popts
// give its input and output. The caller runs it, then calls release.
func NewProgram(ctx context.Context, opts Options, popts ...tea.ProgramOption) (p *tea.Program, release func()) {
	opts.Context = ctx
	m := newRoot(opts)
	popts = append(popts, tea.WithContext(ctx), tea.WithAltScreen(), tea.WithMouseCellMotion(), tea.WithReportFocus())
	return tea.NewProgram(m, popts...), m.close
}

// New builds the root model without a program, for tests and embedding.
// The caller stops the change subscription by sending tea.Quit or by calling
// Close on the returned model if it implements io.Closer.
func New(opts Options) tea.Model { return newRoot(opts) }
