package tui

import "polyglot/inbox"

// The optional Core parts this package looks for are the inbox's.
var (
	_ UnreadNavigator    = (*inbox.Inbox)(nil)
	_ OwnNamer           = (*inbox.Inbox)(nil)
	_ ConversationOpener = (*inbox.Inbox)(nil)
	_ ContactFinder      = (*inbox.Inbox)(nil)
	_ UnreadCounter      = (*inbox.Inbox)(nil)
)
