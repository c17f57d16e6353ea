// Package inbox is the headless core: the SQLite store, people and their
// identities, conversations, the router (the iMessage rule), the outbox,
// consent and message requests, and search. It knows connectors only through
// the protocols package and never imports the TUI or a protocol sub-package.
//
// API (all methods safe for concurrent use):
//
//	Open(path string, opts Options) (*Inbox, error)   // creates/migrates the DB (WAL, FTS5)
//	(*Inbox).Close() error
//	(*Inbox).Attach(account string, c protocols.Connector) // a connector the router may send through
//	(*Inbox).Detach(account string)
//	(*Inbox).Ingest(account string, ev protocols.Event) error
//	(*Inbox).Subscribe() (<-chan Change, func())       // small change notices; func unsubscribes
//	(*Inbox).Conversations(after Cursor, limit int) ([]Conversation, error) // newest first, paged
//	(*Inbox).Conversation(id ConversationID) (Conversation, error)
//	(*Inbox).Messages(id ConversationID, before Cursor, limit int) ([]Message, error) // older than before, returned oldest first
//	(*Inbox).Person(id PersonID) (Person, error)
//	(*Inbox).Routes(id ConversationID) ([]Route, error) // ranked, best first
//	(*Inbox).PlanRoute(ctx, id ConversationID, RouteOptions) (RoutePlan, error) // how the next message, reply or edit goes
//	(*Inbox).Send(ctx, SendRequest) (Message, error)    // follows the plan; *DowngradeError when it needs a yes
//	(*Inbox).Retry(ctx, id MessageID) error
//	(*Inbox).Requests() ([]Request, error)
//	(*Inbox).Decide(ctx, id ConversationID, d Decision) error
//	(*Inbox).MarkRead(ctx, id ConversationID) error     // sends a read marker only with consent
//	(*Inbox).SetTyping(ctx, id ConversationID, typing bool) error // likewise
//	(*Inbox).Search(query string, limit int) ([]SearchHit, error)
//	(*Inbox).MergeSuggestions() ([]MergeSuggestion, error)
//	(*Inbox).MergeSuggestionsFor(p PersonID) ([]MergeSuggestion, error) // same phone number or name, or a lookup, with why
//	(*Inbox).FindContact(ctx, q protocols.ContactQuery, opt) ([]FindOutcome, error) // each account once (protocols.ContactFinder)
//	(*Inbox).FoundFor(p PersonID) ([]FoundAddress, error) // what lookups found that nobody holds yet
//	(*Inbox).AddFound(p PersonID, a protocols.Address) error // only on the user's confirmation
//	(*Inbox).Merge(keep, into PersonID) error           // only on the user's confirmation
//	(*Inbox).SecurityCodes(ctx, p PersonID) ([]SecurityCode, error) // WhatsApp's 60 digits (protocols.CodeComparer)
//	(*Inbox).MarkCodeCompared(ctx, addr protocols.Address, digits string) error // → E2EE verified until the key changes
//	(*Inbox).SetPreferred(p PersonID, n protocols.Network) error
//	(*Inbox).SetAllowDowngrade(p PersonID, allow bool) error
//	(*Inbox).AccountStates() []AccountState
//	(*Inbox).FindConversation(addr string) (ConversationID, error) // for `polyglot send --to`
//	(*Inbox).IngestBatch(account string, evs []protocols.Event) error // one transaction (history sync)
//	(*Inbox).Accepted(addr protocols.Address) bool     // connectors ask before sending receipts
//	(*Inbox).PersonOf(addr protocols.Address) (PersonID, error)
//	(*Inbox).SetReachability(account string, r Reachability) error // stored; applies to new ingest
//	(*Inbox).Reachability(account string) (Reachability, error)
//	(*Inbox).SetAccountServer(account, server string) error // what OwnServerOnly compares with
//	(*Inbox).OptimizeSearch() error                    // merge the FTS index (after big syncs)
//	(*Inbox).Edit(ctx, id MessageID, body string) error // Send with EditOf: own message, via its account; shown at once
//	(*Inbox).React(ctx, id MessageID, key string, remove bool) error
//	(*Inbox).Retract(ctx, id MessageID) error          // own message, deleted for everyone
//	(*Inbox).Download(ctx, id MessageID, index int) (string, error) // into Options.DownloadDir; reused once saved
//	ParseTarget(s string) (Target, error)               // an address as typed: a person, or a room to join
//	(*Inbox).OpenTarget(ctx, account string, t Target) (ConversationID, error) // starts a DM or joins (protocols.Joiner)
//	(*Inbox).NextUnread(from ConversationID, backward bool) (ConversationID, error) // ] and [ in the TUI
//	(*Inbox).OwnNames() map[string][]string            // per account, from protocols.SelfNamer: mentions
//	GenerateLarge(path string, spec GenSpec) error      // synthetic store for benchmarks
package inbox
