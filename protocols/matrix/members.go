package matrix

import (
	"context"

	"maunium.net/go/mautrix/id"

	"polyglot/protocols"
)

// Members lists a room's joined and invited members from the state the
// sync keeps (no request to the server).
func (c *Connector) Members(ctx context.Context, chat protocols.ChatID) ([]protocols.Address, error) {
	cli, _, _, err := c.client()
	if err != nil {
		return nil, err
	}
	users, err := cli.StateStore.GetRoomJoinedOrInvitedMembers(ctx, id.RoomID(chat))
	if err != nil {
		return nil, err
	}
	out := make([]protocols.Address, 0, len(users))
	for _, u := range users {
		if u != cli.UserID {
			out = append(out, userAddress(u))
		}
	}
	return out, nil
}
