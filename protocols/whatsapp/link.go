package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// ReachTimeout bounds how long linking waits for WhatsApp's servers to
// answer (the first QR code) before saying they cannot be reached.
var ReachTimeout = 12 * time.Second

// ErrUnreachable: WhatsApp's servers did not answer (no network, DNS,
// firewall). Nothing was linked.
var ErrUnreachable = errors.New("cannot reach WhatsApp's servers")

// LinkOptions is one linking attempt.
type LinkOptions struct {
	// DBPath is where the new device's store is written; on any failure
	// it is removed again.
	DBPath string
	// StoreKey seals the device's keys and sessions (see Config.StoreKey);
	// the caller keeps it in the keystore once the account is added.
	StoreKey []byte
	// Phone, in international form, asks for an 8-character pairing code
	// to type on that phone instead of a QR code.
	Phone  string
	Logger zerolog.Logger
	// QR is called with each QR code and how long it is valid; codes
	// rotate until the phone scans one.
	QR func(code string, valid time.Duration)
	// PairCode is called with the pairing code (Phone set).
	PairCode func(code string)
	// Codes, when set, stands in for WhatsApp's QR channel (a test seam:
	// no WhatsApp server can run in tests).
	Codes <-chan whatsmeow.QRChannelItem
}

func init() {
	// The phone lists the linked device under this name.
	wastore.SetOSInfo("Polyglot", [3]uint32{1, 0, 0})
}

// Link links Polyglot as a new device of the phone's WhatsApp account and
// returns the account's phone-number JID once the phone confirmed. Only
// then does DBPath hold a device; on any error it is removed.
func Link(ctx context.Context, o LinkOptions) (jid types.JID, err error) {
	st, err := openStore(ctx, o.DBPath, o.StoreKey, o.Logger)
	if err != nil {
		return types.JID{}, err
	}
	defer func() {
		if cerr := st.close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			RemoveStore(o.DBPath)
		}
	}()
	dev := st.container.newDevice()
	cli := whatsmeow.NewClient(dev, wmLog(o.Logger, "whatsmeow-link"))
	cli.EnableAutoReconnect = false
	defer cli.Disconnect()

	paired := make(chan types.JID, 1)
	cli.AddEventHandler(func(raw any) {
		if e, ok := raw.(*events.PairSuccess); ok {
			select {
			case paired <- e.ID:
			default:
			}
		}
	})

	// One bound for reaching WhatsApp: the dial, the handshake and the
	// first code together.
	reach := time.Now().Add(ReachTimeout)
	codes := o.Codes
	if codes == nil {
		ch, err := cli.GetQRChannel(ctx)
		if err != nil {
			return types.JID{}, err
		}
		codes = ch
		// The socket lives as long as the context it connects with: the
		// link's, cancelled to abandon a dial that does not answer.
		linkCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		dialed := make(chan error, 1)
		go func() { dialed <- cli.ConnectContext(linkCtx) }()
		select {
		case err := <-dialed:
			if err != nil {
				return types.JID{}, fmt.Errorf("%w (web.whatsapp.com): %s", ErrUnreachable, netCause(err))
			}
		case <-time.After(time.Until(reach)):
			cancel()
			return types.JID{}, fmt.Errorf("%w: no answer from web.whatsapp.com within %s", ErrUnreachable, ReachTimeout)
		case <-ctx.Done():
			return types.JID{}, ctx.Err()
		}
	}

	first := time.NewTimer(time.Until(reach))
	defer first.Stop()
	gotFirst := false
	for {
		var item whatsmeow.QRChannelItem
		var ok bool
		select {
		case <-ctx.Done():
			return types.JID{}, ctx.Err()
		case <-first.C:
			if !gotFirst {
				return types.JID{}, fmt.Errorf("%w: no answer from web.whatsapp.com within %s", ErrUnreachable, ReachTimeout)
			}
			continue
		case item, ok = <-codes:
		}
		if !ok {
			// A ctrl+c closes the channel too; say which ended it.
			if ctx.Err() != nil {
				return types.JID{}, ctx.Err()
			}
			return types.JID{}, errors.New("linking ended without an answer from the phone")
		}
		switch item.Event {
		case whatsmeow.QRChannelEventCode:
			if !gotFirst && o.Phone != "" {
				gotFirst = true
				code, err := cli.PairPhone(ctx, o.Phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
				if err != nil {
					return types.JID{}, fmt.Errorf("asking WhatsApp for a pairing code: %w", err)
				}
				if o.PairCode != nil {
					o.PairCode(code)
				}
				continue
			}
			gotFirst = true
			if o.Phone == "" && o.QR != nil {
				o.QR(item.Code, item.Timeout)
			}
		case whatsmeow.QRChannelSuccess.Event:
			select {
			case j := <-paired:
				return j.ToNonAD(), nil
			case <-time.After(10 * time.Second):
				if dev.ID != nil {
					return dev.ID.ToNonAD(), nil
				}
				return types.JID{}, errors.New("the phone confirmed, but WhatsApp did not say which account")
			}
		case whatsmeow.QRChannelTimeout.Event:
			return types.JID{}, errors.New("no phone linked in time; run the command again for new codes")
		case whatsmeow.QRChannelClientOutdated.Event:
			return types.JID{}, errors.New("WhatsApp refuses this client version (405): update Polyglot")
		case whatsmeow.QRChannelScannedWithoutMultidevice.Event:
			return types.JID{}, errors.New("the phone scanned the code but has multi-device off; turn it on and run again")
		case whatsmeow.QRChannelEventError:
			return types.JID{}, fmt.Errorf("linking failed: %w", item.Error)
		default:
			return types.JID{}, fmt.Errorf("linking failed (%s)", item.Event)
		}
	}
}

// RemoveStore deletes a whatsapp.db and SQLite's files beside it.
func RemoveStore(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		os.Remove(p)
	}
}

// netCause is the part of a dial error a user can act on: the failed DNS
// lookup or connection, without the websocket layers around it.
func netCause(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return "looking up " + dnsErr.Name + " failed (" + dnsErr.Err + ")"
	case errors.As(err, &opErr):
		return opErr.Error()
	}
	return err.Error()
}
