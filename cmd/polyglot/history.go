package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"polyglot/inbox"
	"polyglot/tui/sanitize"
)

type historyOptions struct {
	address string
	json    bool
	limit   int
}

// historyPage is how many messages one store read fetches.
const historyPage = 200

func newHistoryCmd(f *factory) *cobra.Command {
	o := &historyOptions{}
	cmd := &cobra.Command{
		Use:   "history ADDRESS [--json] [--limit N]",
		Short: "Print a conversation from the store, oldest first",
		Long: `Prints the conversation with ADDRESS (a network address such as
bob@example.org or @bob:example.org, optionally prefixed "xmpp:" or
"matrix:", a group chat's address, or a contact's exact name) from the local
store, oldest first: the last N messages (--limit, default 50; 0 prints the
whole conversation). It only reads, so it works while polyglot runs.

--json prints one JSON object per line: id (local), network_id, client_id,
conversation, network, account, encryption, sender, sender_name, outgoing,
time (RFC 3339), kind, state, body, and edited, deleted, reply_to,
attachments, reactions when set.

Exit status: 0 printed; 2 bad arguments; 3 no conversation with ADDRESS.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withCode(exitUsage, fmt.Errorf("history takes exactly one ADDRESS, got %d", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.address = args[0]
			if o.limit < 0 {
				return withCode(exitUsage, fmt.Errorf("--limit must be 0 (everything) or more, got %d", o.limit))
			}
			a, err := f.App()
			if err != nil {
				return err
			}
			return a.history(o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.json, "json", false, "one JSON object per message and line")
	fl.IntVar(&o.limit, "limit", 50, "print the last N messages; 0 prints them all")
	return cmd
}

func (a *app) history(o *historyOptions) error {
	in, err := inbox.OpenReadOnly(filepath.Join(a.paths.Data, profileDB), inbox.Options{Logger: a.log})
	if errors.Is(err, inbox.ErrNoStore) {
		return withCode(exitCannot, fmt.Errorf("no conversation with %q: nothing is stored yet", o.address))
	}
	if err != nil {
		return err
	}
	defer in.Close()
	conv, err := in.FindConversation(o.address)
	var amb *inbox.AmbiguousError
	switch {
	case errors.Is(err, inbox.ErrNotFound):
		return withCode(exitCannot, fmt.Errorf("no conversation with %q in the store (give an address such as bob@example.org, or a contact's exact name)", o.address))
	case errors.As(err, &amb):
		return withCode(exitCannot, amb)
	case err != nil:
		return err
	}
	// Start where the last N begin, then page forward: one page in memory.
	from, err := in.TailCursor(conv, o.limit)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(a.io.out)
	defer w.Flush()
	left := o.limit
	for o.limit == 0 || left > 0 {
		ms, err := in.MessagesAfter(conv, from, historyPage)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			if o.json {
				err = writeHistoryJSON(w, m)
			} else {
				err = writeHistoryLine(w, m)
			}
			if err != nil {
				return err
			}
			// Messages arriving meanwhile do not stretch "the last N".
			if left--; o.limit > 0 && left == 0 {
				break
			}
		}
		last := ms[len(ms)-1]
		from = inbox.Cursor{At: last.At, ID: int64(last.ID)}
	}
	return w.Flush()
}

// writeHistoryLine prints one message for a person: local time, who, the
// network and encryption, the text. Every remote string goes through the
// sanitizer, so a body cannot move the cursor, retitle or query the
// terminal; later lines of a body are indented.
func writeHistoryLine(w io.Writer, m inbox.Message) error {
	at := m.At.Local().Format("2006-01-02 15:04:05")
	if m.Kind == inbox.KindSystem {
		_, err := fmt.Fprintf(w, "%s  * %s\n", at, indentLines(sanitize.Block(m.Body)))
		return err
	}
	who := "me"
	if !m.Outgoing {
		who = sanitize.Inline(firstNonEmpty(m.SenderName, m.Sender.ID))
	}
	body := sanitize.Block(m.Body)
	switch {
	case m.Deleted:
		body = "(deleted)"
	case m.Edited:
		body += " (edited)"
	}
	for _, att := range m.Attachments {
		body += " [file: " + sanitize.Inline(att.Name) + "]"
	}
	var state string
	switch m.State {
	case inbox.StateQueued:
		state = " — queued"
	case inbox.StateFailed:
		state = " — failed: " + sanitize.Inline(m.FailReason)
	}
	_, err := fmt.Fprintf(w, "%s  %s (%s, %s): %s%s\n", at, who, inbox.NetworkName(m.Network), m.Encryption.Label(),
		indentLines(body), state)
	return err
}

func indentLines(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// historyJSON is one line of `history --json`; the field names are part of
// the command's contract.
type historyJSON struct {
	ID           int64          `json:"id"`
	NetworkID    string         `json:"network_id"`
	ClientID     string         `json:"client_id,omitempty"`
	Conversation int64          `json:"conversation"`
	Network      string         `json:"network"`
	Account      string         `json:"account"`
	Encryption   string         `json:"encryption"`
	Sender       string         `json:"sender"`
	SenderName   string         `json:"sender_name,omitempty"`
	Outgoing     bool           `json:"outgoing"`
	Time         string         `json:"time"`
	Kind         string         `json:"kind"`
	State        string         `json:"state"`
	Body         string         `json:"body"`
	Edited       bool           `json:"edited,omitempty"`
	Deleted      bool           `json:"deleted,omitempty"`
	ReplyTo      string         `json:"reply_to,omitempty"`
	Attachments  []string       `json:"attachments,omitempty"`
	Reactions    map[string]int `json:"reactions,omitempty"`
}

func writeHistoryJSON(w io.Writer, m inbox.Message) error {
	j := historyJSON{ID: int64(m.ID), NetworkID: m.NetworkID, ClientID: m.ClientID, Conversation: int64(m.Conversation),
		Network: string(m.Network), Account: m.Account, Encryption: m.Encryption.String(), Sender: m.Sender.ID,
		SenderName: m.SenderName, Outgoing: m.Outgoing, Time: m.At.UTC().Format(time.RFC3339Nano),
		Kind: "message", State: m.State.String(), Body: m.Body, Edited: m.Edited, Deleted: m.Deleted, ReplyTo: m.ReplyTo}
	if m.Kind == inbox.KindSystem {
		j.Kind = "system"
	}
	for _, att := range m.Attachments {
		j.Attachments = append(j.Attachments, att.Name)
	}
	for _, r := range m.Reactions {
		if j.Reactions == nil {
			j.Reactions = map[string]int{}
		}
		j.Reactions[r.Key] = r.Count
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", escapeInert(b))
	return err
}

// escapeInert writes as \u escapes the characters encoding/json leaves raw
// that a terminal could act on (DEL, the C1 controls such as U+009B CSI)
// or that reorder what is shown (bidi controls). They occur only inside
// strings, where the escape means the same character: a script reading
// the JSON sees the exact text, a terminal showing it sees nothing live.
func escapeInert(b []byte) string {
	s := string(b)
	if !strings.ContainsFunc(s, inertNeeded) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if inertNeeded(r) {
			fmt.Fprintf(&sb, `\u%04x`, r)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func inertNeeded(r rune) bool {
	switch {
	case r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
