package protocols

import "context"

// SelfNamer is implemented by connectors that know how others name the
// user on the network: the local part of the user's address, their display
// name, their group-chat nick. Views highlight these names in messages.
// It reads cached state only.
type SelfNamer interface {
	SelfNames() []string
}

// Joiner is implemented by connectors that can enter a group chat by its
// address: a Matrix room alias (#room:server) or ID (!id:server), an XMPP
// multi-user chat (room@conference.server). It returns once the network
// confirmed the join, with the chat as the network names it (for Matrix
// the room ID an alias resolved to). Joining a chat already joined is not
// an error.
type Joiner interface {
	Join(ctx context.Context, address string) (Chat, error)
}

// MemberLister is implemented by connectors that know who is in a group
// chat (a Matrix room's joined members), from cached state. A client-side
// bridge records them as told when its notice goes out.
type MemberLister interface {
	Members(ctx context.Context, chat ChatID) ([]Address, error)
}
