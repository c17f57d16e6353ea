package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"polyglot/config"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"polyglot/inbox"
	"polyglot/protocols"
)

type sendOptions struct {
	to             string
	via            string
	allowDowngrade bool
	queue          bool
	timeout        time.Duration
	text           string
	file           string
}

func newSendCmd(f *factory) *cobra.Command {
	o := &sendOptions{}
	cmd := &cobra.Command{
		Use:         "send --to ADDRESS [--via NETWORK] [--file PATH] TEXT",
		Annotations: forwardToCore,
		Short:       "Send one message through the same router and outbox as the TUI",
		Long: `Sends TEXT to ADDRESS (a network address such as bob@example.org or
@bob:example.org, optionally prefixed "xmpp:" or "matrix:", or a contact's
exact name). The router picks the best network and encryption; a weaker
encryption than the best route is never used unless --allow-downgrade says so.

With --file PATH the file is sent (TEXT, optional, is its caption) the same
way: the plan says what encryption it travels with, and an upload the server
could read where a text would not be is a downgrade that needs
--allow-downgrade.

Exit status: 0 sent; 3 unknown contact, no route, or a downgrade that was not
allowed; 4 an account's login was refused; 7 the file is larger than the
server accepts (its limit is named); 66 the file cannot be read; 75 queued
because every route is offline (it goes out with the same ID the next time
polyglot is online).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f, _ := cmd.Flags().GetString("file"); f != "" && len(args) <= 1 {
				return nil
			}
			if len(args) != 1 {
				return withCode(exitUsage, fmt.Errorf("send takes exactly one TEXT argument (quote it), got %d", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.text = args[0]
			}
			a, err := f.App()
			if err != nil {
				return err
			}
			return a.send(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.to, "to", "", "recipient address or contact name (required)")
	fl.StringVar(&o.via, "via", "", "force a network: matrix, xmpp or whatsapp")
	fl.BoolVar(&o.allowDowngrade, "allow-downgrade", false, "allow a weaker encryption than the best route for this message")
	fl.BoolVar(&o.queue, "queue", false, "if the best route is offline, queue for it instead of failing")
	fl.DurationVar(&o.timeout, "timeout", 20*time.Second, "how long to wait for accounts to connect and the server to accept")
	fl.StringVar(&o.file, "file", "", "send this file (TEXT is then an optional caption)")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func (a *app) send(ctx context.Context, o *sendOptions) error {
	if o.file != "" {
		// Before any account starts: a wrong path is the user's to fix.
		if _, err := inbox.InspectFile(o.file); err != nil {
			return withCode(exitNoInput, err)
		}
	} else if strings.TrimSpace(o.text) == "" {
		return withCode(exitUsage, errors.New("refusing to send an empty message"))
	}
	var via protocols.Network
	if o.via != "" {
		n, err := protocols.ParseNetwork(o.via)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--via: %w", err))
		}
		via = n
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rt, err := a.connectForCommand(ctx, cfg)
	if err != nil {
		return err
	}
	defer rt.stop()

	return a.deliver(ctx, rt.inbox, cfg, o, via)
}

// deliver is the send itself, once the accounts are up: inbox.Send follows
// the same route plan (inbox.PlanRoute) the TUI's route line shows, with
// --allow-downgrade and --queue as the prompt's "send this one" and "wait".
func (a *app) deliver(ctx context.Context, in *inbox.Inbox, cfg *config.Config, o *sendOptions, via protocols.Network) error {
	conv, err := resolveRecipient(in, cfg, o.to)
	if err != nil {
		return err
	}
	req := inbox.SendRequest{Conversation: conv, Body: o.text, AllowDowngrade: o.allowDowngrade, Queue: o.queue, File: o.file}
	if via != "" {
		route, err := routeVia(in, conv, via)
		if err != nil {
			return err
		}
		req.Route = &route
	}
	msg, err := in.Send(ctx, req)
	var de *inbox.DowngradeError
	var tl *protocols.TooLargeError
	switch {
	case errors.As(err, &tl):
		return withCode(exitTooLarge, tl)
	case errors.Is(err, inbox.ErrUnreadableFile):
		return withCode(exitNoInput, err)
	case errors.As(err, &de):
		hint := "pass --allow-downgrade to send anyway"
		if de.Plan.CanQueue {
			hint += ", or --queue to wait"
		}
		return withCode(exitCannot, fmt.Errorf("downgrade not allowed: %v (%s)", de, hint))
	case errors.Is(err, inbox.ErrNoRoute):
		return withCode(exitCannot, err)
	case err != nil:
		return err
	}
	if msg.State == inbox.StateQueued && accountOnline(in, msg.Account) {
		// Older queued messages go first; wait for the outbox to reach ours.
		msg = waitSent(ctx, in, msg)
	}
	return a.reportSend(msg)
}

func accountOnline(in *inbox.Inbox, account string) bool {
	for _, st := range in.AccountStates() {
		if st.Account == account {
			return st.State == protocols.ConnOnline
		}
	}
	return false
}

// waitSent polls the stored message until it leaves the queue or ctx ends.
func waitSent(ctx context.Context, in *inbox.Inbox, msg inbox.Message) inbox.Message {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for msg.State == inbox.StateQueued {
		select {
		case <-ctx.Done():
			return msg
		case <-tick.C:
		}
		if m, err := in.Message(msg.ID); err == nil {
			msg = m
		}
	}
	return msg
}

func (a *app) reportSend(msg inbox.Message) error {
	where := fmt.Sprintf("via %s (%s)", inbox.NetworkName(msg.Network), msg.Encryption.Label())
	switch msg.State {
	case inbox.StateQueued:
		return withCode(exitQueued, fmt.Errorf("queued %s: not accepted by a server yet; it goes out, once, the next time polyglot is online", where))
	case inbox.StateFailed:
		code := exitError
		if strings.HasPrefix(msg.FailReason, "file too large") {
			code = exitTooLarge // the limit was learnt only at upload
		}
		return withCode(code, fmt.Errorf("failed %s: %s", where, msg.FailReason))
	}
	fmt.Fprintf(a.io.out, "sent %s\n", where)
	if msg.Notice != "" {
		fmt.Fprintln(a.io.out, msg.Notice)
	}
	return nil
}

// resolveRecipient finds the conversation for --to. An address that is not a
// contact yet but has the form of a configured network's address becomes
// one: sending to someone is the user's own consent.
func resolveRecipient(in *inbox.Inbox, cfg *config.Config, to string) (inbox.ConversationID, error) {
	conv, err := in.FindConversation(to)
	if err == nil {
		return conv, nil
	}
	if !errors.Is(err, inbox.ErrNotFound) {
		return 0, withCode(exitCannot, err)
	}
	addr, ok := parseAddress(to)
	if !ok {
		return 0, withCode(exitCannot, fmt.Errorf("unknown contact %q: not in your contacts and not an address of a known network", to))
	}
	acc, ok := accountFor(cfg, addr.Network)
	if !ok {
		return 0, withCode(exitCannot, fmt.Errorf("no route to %s: no %s account configured", addr.ID, inbox.NetworkName(addr.Network)))
	}
	conv, err = in.StartConversation(acc.ID, addr)
	if err != nil {
		return 0, err
	}
	return conv, nil
}

func routeVia(in *inbox.Inbox, conv inbox.ConversationID, via protocols.Network) (inbox.Route, error) {
	routes, err := in.Routes(conv)
	if err != nil {
		return inbox.Route{}, err
	}
	for _, r := range routes {
		if r.Network == via {
			return r, nil
		}
	}
	return inbox.Route{}, withCode(exitCannot, fmt.Errorf("no route via %s to this contact", inbox.NetworkName(via)))
}

// parseAddress recognises the address forms of the networks:
// "@user:server" (Matrix), "user@domain" (XMPP), "+4915…" or
// "4915…@s.whatsapp.net" (WhatsApp); "network:" prefixes are honoured.
func parseAddress(s string) (protocols.Address, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ':'); i > 0 {
		if n, err := protocols.ParseNetwork(s[:i]); err == nil {
			id := s[i+1:]
			return protocols.Address{Network: n, ID: id, Server: serverOf(n, id)}, id != ""
		}
	}
	switch {
	case strings.HasPrefix(s, "@") && strings.Count(s, ":") >= 1 && !strings.ContainsAny(s, " \t"):
		return protocols.Address{Network: protocols.Matrix, ID: s, Server: serverOf(protocols.Matrix, s)}, true
	case strings.HasSuffix(s, "@s.whatsapp.net"):
		return protocols.Address{Network: protocols.WhatsApp, ID: s, Server: "s.whatsapp.net"}, true
	case strings.HasPrefix(s, "+") && len(s) > 5 && strings.Trim(s[1:], "0123456789") == "":
		return protocols.Address{Network: protocols.WhatsApp, ID: s[1:] + "@s.whatsapp.net", Server: "s.whatsapp.net"}, true
	case strings.Count(s, "@") == 1 && !strings.HasPrefix(s, "@") && !strings.HasSuffix(s, "@") && !strings.ContainsAny(s, " \t"):
		return protocols.Address{Network: protocols.XMPP, ID: s, Server: serverOf(protocols.XMPP, s)}, true
	}
	return protocols.Address{}, false
}

func serverOf(n protocols.Network, id string) string {
	switch n {
	case protocols.Matrix:
		if i := strings.IndexByte(id, ':'); i >= 0 {
			return id[i+1:]
		}
	case protocols.XMPP, protocols.WhatsApp:
		if i := strings.IndexByte(id, '@'); i >= 0 {
			host := id[i+1:]
			if j := strings.IndexByte(host, '/'); j >= 0 {
				host = host[:j]
			}
			return host
		}
	}
	return ""
}

func accountFor(cfg *config.Config, n protocols.Network) (config.Account, bool) {
	for _, acc := range cfg.Accounts {
		if acc.Network == n && acc.Enabled {
			return acc, true
		}
	}
	return config.Account{}, false
}

// absFileArgs makes a relative --file absolute before the command line
// goes to a core, whose working directory is not this one.
func absFileArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		switch {
		case a == "--file" && i+1 < len(out):
			if p, err := filepath.Abs(out[i+1]); err == nil && !strings.HasPrefix(out[i+1], "~") {
				out[i+1] = p
			}
		case strings.HasPrefix(a, "--file="):
			if v := strings.TrimPrefix(a, "--file="); v != "" && !strings.HasPrefix(v, "~") {
				if p, err := filepath.Abs(v); err == nil {
					out[i] = "--file=" + p
				}
			}
		}
	}
	return out
}
