package inbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"polyglot/protocols"
)

// Options configures Open. The zero value is usable.
type Options struct {
	// Logger receives diagnostics; never message bodies or secrets. The zero
	// value discards everything, like zerolog.Nop().
	Logger zerolog.Logger
	// Now is the clock (tests pin it). Default time.Now.
	Now func() time.Time
	// NewID makes client transaction IDs. Default: 128 crypto-random bits.
	NewID func() string
	// SendTimeout bounds one connector Send; a timeout leaves the message
	// queued. Default 30 s.
	SendTimeout time.Duration
	// TypingExpiry is how long a typing notice lasts without renewal.
	// Default 6 s.
	TypingExpiry time.Duration
	// DownloadDir is where Download saves attachments (created 0700 on
	// first use). Empty: Download refuses.
	DownloadDir string
}

func (o *Options) fill() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = randomID
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.TypingExpiry <= 0 {
		o.TypingExpiry = 6 * time.Second
	}
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("inbox: crypto/rand failed: " + err.Error())
	}
	return "pg" + hex.EncodeToString(b[:])
}

// SendRequest is one message the user wants to send: a new message, a
// reply (ReplyTo) or a correction (EditOf). Send follows the route plan
// PlanRoute gives for the same options.
type SendRequest struct {
	Conversation ConversationID
	Body         string
	// ReplyTo is the local ID of the message answered (0: none). The reply
	// travels on that message's account and points at it there; when the
	// plan cannot link it, it goes as a plain message.
	ReplyTo MessageID
	// EditOf is the local ID of the user's own message this corrects.
	EditOf MessageID
	// Route is an explicit pick from Routes; nil lets the router choose.
	Route *Route
	// AllowDowngrade is the user's yes, for THIS message, to a weaker
	// encryption class than the best route offers.
	AllowDowngrade bool
	// Queue waits for the best route to come online instead of sending
	// weaker now.
	Queue bool
	// File is the path of a file to send (Body is then its optional
	// caption); see InspectFile.
	File string
	// relay marks a send the client-side bridge makes (bridge_relay.go).
	relay *relayTag
}

// Options is the route part of the request.
func (r SendRequest) Options() RouteOptions {
	return RouteOptions{ReplyTo: r.ReplyTo, EditOf: r.EditOf, Route: r.Route, AllowDowngrade: r.AllowDowngrade, Queue: r.Queue,
		File: r.File != ""}
}

// ErrNoRoute is returned (wrapped) when no attached account can reach the
// conversation at all.
var ErrNoRoute = errors.New("no route")

// ErrNotFound is returned (wrapped) for an unknown conversation, message or
// person.
var ErrNotFound = errors.New("not found")

// DowngradeError says the message was NOT stored or sent because the only
// available route is weaker than the best one; the user must say yes
// (SendRequest.AllowDowngrade) or wait (SendRequest.Queue).
type DowngradeError struct {
	Best    Route // the best route (offline, or stronger than the pick)
	Offered Route // what would be used if the user agrees
	// Plan is the route plan that needs the yes (Plan.CanQueue: waiting
	// for Best is a choice too).
	Plan RoutePlan
}

func (e *DowngradeError) Error() string {
	state := "is offline"
	if e.Best.Online {
		state = "is available"
	}
	return fmt.Sprintf("%s (%s) %s; %s would send %s",
		NetworkName(e.Best.Network), e.Best.Encryption.Label(), state,
		NetworkName(e.Offered.Network), e.Offered.Encryption.Label())
}

// NetworkName is the display name of a network ("Matrix", "XMPP", "WhatsApp").
func NetworkName(n protocols.Network) string {
	switch n {
	case protocols.Matrix:
		return "Matrix"
	case protocols.XMPP:
		return "XMPP"
	case protocols.WhatsApp:
		return "WhatsApp"
	}
	return string(n)
}

// Reachability is who may start a conversation with the user on an account.
// It filters incoming messages from addresses the user has not accepted;
// accepted contacts always get through and blocked ones never do.
type Reachability int

const (
	Everyone      Reachability = iota // anyone; strangers land in Requests
	ContactsOnly                      // only roster/contact-list entries and accepted addresses
	OwnServerOnly                     // strangers only from the account's own server
)

func (r Reachability) String() string {
	switch r {
	case Everyone:
		return "everyone"
	case ContactsOnly:
		return "contacts only"
	case OwnServerOnly:
		return "own server only"
	}
	return fmt.Sprintf("reachability(%d)", int(r))
}
