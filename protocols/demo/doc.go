// Package demo is an embedded, deterministic simulated world: three
// connectors named after the real networks (Matrix, XMPP, WhatsApp) that
// implement protocols.Connector with scripted contacts, histories, replies,
// receipts, a stranger's message request, a key change and a network outage.
//
// It powers `polyglot demo` and fast unit tests elsewhere. It is never a
// stand-in for the real-server tests.
//
// Time: every script step is placed on a virtual clock that runs Speed times
// faster than the wall clock (Speed 1 is real time, Speed 50 suits tests).
// Timers use the real monotonic clock; Options.Now only stamps events.
//
// Determinism: the content (names, histories, IDs, replies) derives from
// Options.Seed, and each connector runs its script on one goroutine in
// virtual-time order, so the same seed yields the same event sequence per
// connector. Replies to the user's messages are scheduled from the moment
// of the Send; their content depends only on the seed and how many replies
// that contact has given.
//
// API:
//
//	New(Options) *World
//	(*World).Accounts() []Account                  // one per network, connectors unconnected
//	(*World).People() [][]protocols.Address         // identities already confirmed as one person
//	(*World).SetDown(network, down bool)            // simulate an outage (ConnectionEvent, ErrNotConnected)
//	(*World).Outbound() []Outbound                  // everything the user side sent
//	(*World).Delivered(clientID string) int         // how often a peer received a message
//	(*World).Inject(account string, ev protocols.Event) error
//	(*World).Close() error                          // stops every connector and timer
package demo
