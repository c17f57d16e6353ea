package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"polyglot/config"
	"strconv"

	"github.com/spf13/cobra"

	"polyglot/inbox"
	"polyglot/protocols"
	"polyglot/protocols/demo"
)

// demoDB is recreated on every run so the demo always starts the same way.
const demoDB = "demo.db"

func newDemoCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Open the embedded demo world (simulated Matrix, XMPP and WhatsApp)",
		Long: `Opens the embedded demo world: simulated contacts on three networks, a group,
a stranger's message request, and a network that drops partway so fallback
shows. Nothing leaves your machine. POLYGLOT_DEMO_SPEED speeds its clock up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.runDemo(cmd.Context(), cfg)
		},
	}
}

func (a *app) runDemo(ctx context.Context, cfg *config.Config) error {
	if err := a.checkStartup(cfg, true); err != nil {
		return err
	}
	speed, err := demoSpeed()
	if err != nil {
		return withCode(exitUsage, err)
	}
	path := filepath.Join(a.paths.Data, demoDB)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("reset demo store: %w", err)
		}
	}
	in, err := a.openInbox(demoDB)
	if err != nil {
		return err
	}
	defer in.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	world := demo.New(demo.Options{Seed: 1, Speed: speed, Logger: a.log})
	if err := mergeKnownPeople(in, world.People()); err != nil {
		return err
	}
	for _, acc := range world.Accounts() {
		in.Attach(acc.ID, acc.Connector)
		go pump(ctx, in, acc.ID, acc.Connector)
		if err := acc.Connector.Connect(ctx); err != nil {
			return fmt.Errorf("demo %s: %w", acc.Network, err)
		}
	}
	defer func() {
		for _, acc := range world.Accounts() {
			_ = acc.Connector.Close()
		}
	}()
	a.demo = true
	return a.runTUI(ctx, cfg, in, nil)
}

// mergeKnownPeople replays the merges the demo user confirmed earlier, so a
// person on several networks is one entry from the first frame.
func mergeKnownPeople(in *inbox.Inbox, people [][]protocols.Address) error {
	for _, ids := range people {
		var keep inbox.PersonID
		for _, addr := range ids {
			if err := in.Ingest(string(addr.Account), protocols.ContactEvent{Contact: addr}); err != nil {
				return err
			}
			p, err := in.PersonOf(addr)
			if err != nil {
				return err
			}
			if keep == 0 {
				keep = p
			} else if p != keep {
				if err := in.Merge(keep, p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// pump hands a connector's events to the inbox until ctx ends.
func pump(ctx context.Context, in *inbox.Inbox, account string, c protocols.Connector) {
	events := c.Events()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			_ = in.Ingest(account, ev)
		}
	}
}

func demoSpeed() (float64, error) {
	s := os.Getenv("POLYGLOT_DEMO_SPEED")
	if s == "" {
		return 1, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("POLYGLOT_DEMO_SPEED=%q: want a positive number such as 1 or 20", s)
	}
	return v, nil
}
