package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/tui/sanitize"
)

type contactFindOptions struct {
	acceptTerms bool
	timeout     time.Duration
}

func newContactFindCmd(f *factory) *cobra.Command {
	o := &contactFindOptions{}
	cmd := &cobra.Command{
		Use:         "find ADDRESS|PHONE",
		Annotations: forwardToCore,
		Short:       "Ask your networks, once, which of them know this person",
		Long: `Asks each of your accounts whether its network knows the person with
ADDRESS (an email or XMPP address) or PHONE (+ and the country code), one
line per account: found (with the address), not found, or can't ask (why).
Nothing else is looked up, and nothing in the background.

What leaves this device: Matrix asks the account's identity server
(identity_server in config.toml, else the homeserver's .well-known) with a
salted SHA-256 hash only, after you accept its terms (--accept-terms, once;
remembered on your homeserver). WhatsApp is sent the phone number in the
clear (it has no hashed lookup). XMPP asks the address's own server about
the account, without telling the person.

What is found shows in the person view as a merge suggestion ("found on
WhatsApp by phone number"); nothing is merged without your yes.

Exit status: 0 found on at least one network; 2 not an address or a phone
number; 3 found on none (or no account could ask); 4 an account's login was
refused.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withCode(exitUsage, fmt.Errorf("find takes one ADDRESS or PHONE, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := inbox.ParseContactQuery(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			a, err := f.App()
			if err != nil {
				return err
			}
			return a.findContact(cmd.Context(), q, o)
		},
	}
	cmd.Flags().BoolVar(&o.acceptTerms, "accept-terms", false, "accept the Matrix identity server's terms (shown when it asks) for this and later lookups")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 20*time.Second, "how long to wait for accounts to connect and answer")
	return cmd
}

func (a *app) findContact(ctx context.Context, q protocols.ContactQuery, o *contactFindOptions) error {
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
	outs, err := rt.inbox.FindContact(ctx, q, protocols.FindOptions{AcceptTerms: o.acceptTerms})
	if err != nil {
		return err
	}
	found := false
	for _, out := range outs {
		fmt.Fprintln(a.io.out, findLine(out))
		found = found || (out.Err == nil && out.Result.Found)
	}
	if !found {
		return withCode(exitCannot, fmt.Errorf("no network of yours knows %s", q))
	}
	fmt.Fprintln(a.io.out, "see the person view (p) for merge suggestions; nothing was merged")
	return nil
}

// findLine is one account's answer: "Matrix  @me:example.org  found
// @bob:example.org (by phone number)". Remote text is shown inert.
func findLine(o inbox.FindOutcome) string {
	head := fmt.Sprintf("%-8s %s  ", inbox.NetworkName(o.Network), sanitize.Inline(o.Account))
	var te *protocols.TermsError
	switch {
	case errors.As(o.Err, &te):
		s := head + "can't ask: the identity server " + sanitize.Inline(te.Service) + " asks you to accept its terms first:"
		for _, p := range te.Policies {
			s += " " + sanitize.Inline(p.Name) + " " + sanitize.Inline(p.URL)
		}
		return s + " — read them, then run again with --accept-terms"
	case errors.Is(o.Err, protocols.ErrNotConnected):
		return head + "can't ask: the account is offline"
	case o.Err != nil:
		return head + "can't ask: " + sanitize.Inline(userText(o.Err))
	case o.Result.Found:
		return head + "found " + sanitize.Inline(o.Result.Address.ID) + " (by " + o.Result.By + ")"
	}
	return head + "not found"
}
