package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"polyglot/inbox"
)

func newContactCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contact",
		Short: "Find a person on your networks, or undo a block or an ignore",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newContactUnblockCmd(f), newContactFindCmd(f))
	return cmd
}

func newContactUnblockCmd(f *factory) *cobra.Command {
	io := f.io
	return &cobra.Command{
		Use:   "unblock ADDRESS",
		Short: "Unblock (or unignore) the person with ADDRESS",
		Long: `Takes back a Block or an Ignore decided in Requests: the person's
addresses are undecided again and their conversation shows again — in the
inbox if you accepted them on another network, else in Requests, where you
decide anew. ADDRESS is a network address (bob@example.org, or
xmpp:bob@example.org to name the network). The network is not told.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withCode(exitUsage, fmt.Errorf("unblock takes one ADDRESS, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			in, err := a.openInbox(profileDB)
			if err != nil {
				return err
			}
			defer in.Close()
			name, n, err := in.UnblockAddress(args[0])
			switch {
			case errors.Is(err, inbox.ErrNotFound):
				return withCode(exitCannot, fmt.Errorf("no contact with address %q", args[0]))
			case err != nil:
				return err
			case n == 0:
				fmt.Fprintf(io.out, "%s was not blocked or ignored\n", name)
			default:
				fmt.Fprintf(io.out, "unblocked %s\n", name)
			}
			return nil
		},
	}
}
