package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"polyglot/config"
	"polyglot/inbox"
	"polyglot/tui/sanitize"
)

func newBridgeCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bridge",
		Short: "Link two conversations on different networks (a client-side bridge)",
		Long: `A link relays each new message of one conversation into the other, sent by
your own account there, with the original sender's name, network and
encryption in front. It runs on this device only, while Polyglot's core runs
(polyglot, or polyglot serve): nothing is decrypted anywhere else, and no
server learns about the link beyond the notice posted into both
conversations before anything is relayed. Anyone in them can reply !stop.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newBridgeAddCmd(f), newBridgeListCmd(f), newBridgeRemoveCmd(f))
	return cmd
}

func newBridgeAddCmd(f *factory) *cobra.Command {
	var allowWeaker bool
	cmd := &cobra.Command{
		Use:         "add CONV CONV",
		Annotations: forwardToCore,
		Short:       "Link two conversations",
		Long: `Links two conversations on different networks. CONV is an address:
@bob:example.org, xmpp:carol@example.org, matrix:!room:example.org (a room
ID), or a contact's exact name.

Linking an end-to-end encrypted conversation with one that is not needs
--allow-weaker: its messages would be readable by the other network's
server. The link is marked as such in bridge list.

Exit status: 0 linked (prints the link's ID); 2 usage; 3 unknown
conversation, no account reaching it, same network, a cycle of links, or a
weaker link without --allow-weaker.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return withCode(exitUsage, fmt.Errorf("bridge add takes two conversations, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBridgeInbox(cmd.Context(), f, func(in *inbox.Inbox, cfg *config.Config, hosted bool) error {
				return bridgeAdd(cmd.Context(), f.io.out, in, cfg, args[0], args[1], allowWeaker, hosted)
			})
		},
	}
	cmd.Flags().BoolVar(&allowWeaker, "allow-weaker", false, "link an end-to-end encrypted conversation with one that is not")
	return cmd
}

func newBridgeListCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:         "list",
		Annotations: forwardToCore,
		Short:       "List links, one per line, ID first",
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withBridgeInbox(cmd.Context(), f, func(in *inbox.Inbox, _ *config.Config, _ bool) error {
				ls, err := in.Bridges()
				if err != nil {
					return err
				}
				for _, l := range ls {
					fmt.Fprintln(f.io.out, bridgeLine(l))
				}
				return nil
			})
		},
	}
}

func newBridgeRemoveCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:         "remove ID",
		Annotations: forwardToCore,
		Short:       "End a link at once (what was relayed stays)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withCode(exitUsage, fmt.Errorf("bridge remove takes one link ID, got %d arguments", len(args)))
			}
			if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
				return withCode(exitUsage, fmt.Errorf("bridge remove: %q is not a link ID (see `polyglot bridge list`)", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := strconv.ParseInt(args[0], 10, 64)
			return withBridgeInbox(cmd.Context(), f, func(in *inbox.Inbox, _ *config.Config, _ bool) error {
				err := in.RemoveBridge(id)
				if errors.Is(err, inbox.ErrNotFound) {
					return withCode(exitCannot, fmt.Errorf("no link %d (see `polyglot bridge list`)", id))
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(f.io.out, "removed link %d\n", id)
				return nil
			})
		},
	}
}

// withBridgeInbox runs fn over the running core's inbox, or, with no core,
// over the store (owning the data dir meanwhile): links and notices are
// stored, and relaying starts when a core runs.
func withBridgeInbox(ctx context.Context, f *factory, fn func(in *inbox.Inbox, cfg *config.Config, hosted bool) error) error {
	a, err := f.App()
	if err != nil {
		return err
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if rt := hostedRuntime(ctx); rt != nil {
		return fn(rt.inbox, cfg, true)
	}
	if err := a.ownDataDir("while it runs"); err != nil {
		return err
	}
	defer a.releaseDataDir()
	in, err := a.openClientInbox(cfg)
	if err != nil {
		return err
	}
	defer in.Close()
	return fn(in, cfg, false)
}

func bridgeAdd(ctx context.Context, out io.Writer, in *inbox.Inbox, cfg *config.Config, x, y string, allowWeaker, hosted bool) error {
	var legs [2]inbox.BridgeLeg
	for i, addr := range []string{x, y} {
		l, err := bridgeLeg(in, cfg, addr)
		if errors.Is(err, inbox.ErrNotFound) || errors.Is(err, inbox.ErrNoRoute) {
			return withCode(exitCannot, err)
		}
		if err != nil {
			return err
		}
		legs[i] = l
	}
	l, err := in.AddBridge(ctx, legs[0], legs[1], allowWeaker)
	switch {
	case errors.Is(err, inbox.ErrBridgeWeaker):
		return withCode(exitCannot, fmt.Errorf("%w; add --allow-weaker if you mean it", err))
	case errors.Is(err, inbox.ErrBridgeCycle), errors.Is(err, inbox.ErrBridgeSameNetwork):
		return withCode(exitCannot, err)
	case err != nil:
		return err
	}
	fmt.Fprintln(out, bridgeLine(l))
	if !hosted {
		fmt.Fprintln(out, "notices are queued; the link relays while polyglot or polyglot serve runs")
	}
	return nil
}

// bridgeLeg resolves CONV: a room must be known already; a person's
// address that is not a conversation yet becomes one, as with send.
func bridgeLeg(in *inbox.Inbox, cfg *config.Config, addr string) (inbox.BridgeLeg, error) {
	if a, ok := parseAddress(addr); ok && (strings.HasPrefix(a.ID, "!") || strings.HasPrefix(a.ID, "#")) {
		l, err := in.ResolveBridgeLeg(addr)
		if errors.Is(err, inbox.ErrNotFound) {
			return l, fmt.Errorf("no room %s among your conversations (join it first): %w", a.ID, err)
		}
		return l, err
	}
	conv, err := resolveRecipient(in, cfg, addr)
	if err != nil {
		return inbox.BridgeLeg{}, err
	}
	return in.BridgeLegFor(conv, addr)
}

// bridgeLine is one link as bridge list prints it: ID first, then both
// legs, the weakest class and the state. Titles come from the networks
// and are sanitized.
func bridgeLine(l inbox.BridgeLink) string {
	weaker := ""
	if l.Weaker {
		weaker = " (weaker leg confirmed)"
	}
	pending := ""
	if l.Pending > 0 {
		pending = fmt.Sprintf(", %d to relay", l.Pending)
	}
	return fmt.Sprintf("%d\t%s %q\t<->\t%s %q\t%s%s\t%s%s", l.ID, sanitize.Inline(l.A.String()), sanitize.Inline(l.A.Title),
		sanitize.Inline(l.B.String()), sanitize.Inline(l.B.Title), l.Weakest.Label(), weaker, l.State, pending)
}
