package protocols

import "time"

// Event is anything a connector reports. Connectors send concrete values of
// the types below; the core handles them in one type switch.
type Event interface{ isEvent() }

// MessageEvent is a new message, live or from history/catch-up.
type MessageEvent struct {
	Message Message
	// Historical is set for messages fetched from archives (MAM, back-fill,
	// history sync); they must not trigger notifications.
	Historical bool
}

// ReceiptKind distinguishes delivery from read.
type ReceiptKind int

const (
	ReceiptDelivered ReceiptKind = iota + 1
	ReceiptRead
)

func (k ReceiptKind) String() string {
	if k == ReceiptRead {
		return "read"
	}
	return "delivered"
}

// ReceiptEvent says the peer got or read messages. IDs may be network IDs
// or our client IDs (XMPP receipts reference the origin/stanza ID we sent).
type ReceiptEvent struct {
	Chat ChatID
	IDs  []MessageID
	Kind ReceiptKind
	From Address
	At   time.Time
}

// TypingEvent is a chat-state change.
type TypingEvent struct {
	Chat   ChatID
	From   Address
	Typing bool
}

// PresenceState is a contact's availability.
type PresenceState int

const (
	PresenceUnknown PresenceState = iota
	PresenceOffline
	PresenceAway
	PresenceOnline
)

func (p PresenceState) String() string {
	return [...]string{"unknown", "offline", "away", "online"}[p]
}

// PresenceEvent is a contact's availability change.
type PresenceEvent struct {
	From   Address
	State  PresenceState
	Status string
}

// EditEvent replaces the body of an earlier message.
type EditEvent struct {
	Chat      ChatID
	TargetID  MessageID // network ID (or client/origin ID) of the edited message
	NetworkID MessageID // ID of the edit itself
	From      Address
	Body      string
	Formatted string
	At        time.Time
}

// DeleteEvent retracts/redacts an earlier message.
type DeleteEvent struct {
	Chat     ChatID
	TargetID MessageID
	From     Address
	At       time.Time
}

// ReactionEvent adds or removes a reaction.
type ReactionEvent struct {
	Chat     ChatID
	TargetID MessageID
	Key      string
	From     Address
	Remove   bool
	At       time.Time
}

// KeyChangeKind says what happened to a contact's device key.
type KeyChangeKind int

const (
	KeyNew KeyChangeKind = iota + 1
	KeyChanged
	KeyRemoved
	KeyVerified
	// KeyCodeChanged: the contact's identity key changed, so the security
	// code the user may have compared (CodeComparer) is a new one and the
	// contact is no longer verified.
	KeyCodeChanged
)

func (k KeyChangeKind) String() string {
	switch k {
	case KeyNew:
		return "new device"
	case KeyChanged:
		return "changed key"
	case KeyRemoved:
		return "removed device"
	case KeyVerified:
		return "verified"
	case KeyCodeChanged:
		return "security code changed"
	}
	return "key event"
}

// KeyChangeEvent is a contact's new, changed or verified device key; it is
// shown in the conversation as Signal does.
type KeyChangeEvent struct {
	Chat        ChatID
	Contact     Address
	DeviceID    string
	Fingerprint string
	Kind        KeyChangeKind
	// EndsVerification: the contact was verified, and this device is
	// not among what the user compared (a new device of a verified
	// contact): their class drops to E2EE until the user compares again.
	EndsVerification bool
	At               time.Time
}

// ConnState is an account's link state as the connector sees it.
type ConnState int

const (
	ConnOffline ConnState = iota
	ConnConnecting
	ConnOnline
	ConnAuthFailed
)

func (s ConnState) String() string {
	return [...]string{"offline", "connecting", "online", "auth failed"}[s]
}

// ConnectionEvent is a change of the link state.
type ConnectionEvent struct {
	State  ConnState
	Err    error
	Detail string
}

// CheckpointEvent follows the events it covers. The consumer calls Commit
// once every event before it is stored; only then may the connector count
// them as received (advance a catch-up position, keep a sync token). A
// consumer that failed to store one of them does not call it, so the
// connector fetches them again after its next reconnect.
type CheckpointEvent struct {
	Commit func()
}

// ContactEvent is a roster/contact-list entry added, changed or removed.
type ContactEvent struct {
	Contact      Address
	Name         string
	Subscription string // network-specific (e.g. XMPP both/to/from/none)
	Removed      bool
}

// RequestKind says what a network-level request is.
type RequestKind int

const (
	RequestMessage      RequestKind = iota + 1 // a first message (consent is ours)
	RequestInvite                              // Matrix room invite
	RequestSubscription                        // XMPP presence subscription
)

// RequestEvent is a network-level request to be answered (an invite or a
// subscription); it lands in Requests under the consent rules.
type RequestEvent struct {
	From Address
	Name string
	Chat Chat
	Kind RequestKind
	At   time.Time
}

// ChatEvent updates a chat's metadata (name, group-ness, encryption).
type ChatEvent struct {
	Chat       Chat
	Encryption Encryption
	Members    []Address
}

// HistoryProgressEvent reports the recent history a first login fills in
// the background: how far it got, for the status bar. Several may come;
// the last one of a fill has Done set, however the fill ended. Figures are
// what was fetched so far, not an estimate of what remains.
type HistoryProgressEvent struct {
	Messages int  // messages fetched so far
	Limit    int  // the fill stops at this many (history_messages); 0: none
	Chats    int  // conversations those messages belong to
	Done     bool // the fill ended (finished, reached its limit, or stopped)
}

func (MessageEvent) isEvent()         {}
func (ReceiptEvent) isEvent()         {}
func (TypingEvent) isEvent()          {}
func (PresenceEvent) isEvent()        {}
func (EditEvent) isEvent()            {}
func (DeleteEvent) isEvent()          {}
func (ReactionEvent) isEvent()        {}
func (KeyChangeEvent) isEvent()       {}
func (ConnectionEvent) isEvent()      {}
func (CheckpointEvent) isEvent()      {}
func (ContactEvent) isEvent()         {}
func (RequestEvent) isEvent()         {}
func (ChatEvent) isEvent()            {}
func (HistoryProgressEvent) isEvent() {}
