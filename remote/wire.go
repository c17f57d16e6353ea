package remote

// Version is the protocol both ends must speak; a frame that changes
// meaning bumps it.
// 2: Run carries Secrets and Terminal (a core of 1 would run `account
// add` without them).
const Version = 2

// Frame is one line on the socket. Exactly one group of fields is set.
type Frame struct {
	// Handshake.
	Hello   *Hello   `json:"hello,omitempty"`
	Welcome *Welcome `json:"welcome,omitempty"`
	Refused string   `json:"refused,omitempty"`

	// ID ties a request to its answers.
	ID uint64 `json:"id,omitempty"`

	// Run asks the core to run a command line as if typed beside it; the
	// core answers with Stdout/Stderr chunks, then Exit.
	Run    *Run   `json:"run,omitempty"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	Exit   *int   `json:"exit,omitempty"`
	Cancel bool   `json:"cancel,omitempty"` // the client gave up on request ID

	// Attach asks for a screen: the core answers Attached, and from the
	// next byte on the connection carries SSH (a PTY session running the
	// TUI in the core), no more frames.
	Attach   bool `json:"attach,omitempty"`
	Attached bool `json:"attached,omitempty"`
}

// Hello opens a connection.
type Hello struct {
	Version int    `json:"version"`
	Client  string `json:"client"` // e.g. "polyglot 0.1.0 send", for the core's log
	// DataDir is the data dir the client means; a core of another one
	// refuses it.
	DataDir string `json:"data_dir"`
}

// Welcome accepts a Hello.
type Welcome struct {
	Version int    `json:"version"`
	PID     int    `json:"pid"`
	Server  string `json:"server"` // e.g. "polyglot 0.1.0 serve"
}

// Run is a command line (the arguments after "polyglot").
type Run struct {
	Args []string `json:"args"`
	// Secrets are what the command would otherwise read from a file, a
	// prompt or standard input of the client (the password or token of an
	// account being added), gathered there by kind. Never logged by
	// either end.
	Secrets map[string][]byte `json:"secrets,omitempty"`
	// Terminal: the client's standard output is a terminal, so the
	// command may redraw in place (account add whatsapp's QR code).
	Terminal bool `json:"terminal,omitempty"`
}
