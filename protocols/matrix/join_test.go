package matrix_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"polyglot/internal/testserver"
	"polyglot/protocols"
)

// TestJoinRoomByAlias: a public room another user made with an alias is
// joined by that alias, comes back under its room ID and name, and its
// messages arrive in that chat.
func TestJoinRoomByAlias(t *testing.T) {
	d := testserver.StartDendrite(t)
	alice := d.CreateUser("alice", "password-alice")
	d.CreateUser("carol", "password-carol")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Carol, a plain client, makes #club with an alias and a name.
	carol, err := mautrix.NewClient(d.URL(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "carol"}, Password: "password-carol", StoreCredentials: true}); err != nil {
		t.Fatal(err)
	}
	created, err := carol.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat", RoomAliasName: "club", Name: "Book club"})
	if err != nil {
		t.Fatal(err)
	}

	a := connect(t, d, cfgFor(t, alice, "password-alice"))
	if _, err := a.c.Join(ctx, "#nope:"+testserver.DendriteDomain); err == nil {
		t.Fatal("joined an alias nobody made")
	}
	chat, err := a.c.Join(ctx, "#club:"+testserver.DendriteDomain)
	if err != nil {
		t.Fatal(err)
	}
	if chat.ID != protocols.ChatID(created.RoomID.String()) || !chat.Group || chat.Name != "Book club" {
		t.Fatalf("joined %+v, want room %s named Book club", chat, created.RoomID)
	}
	if _, err := carol.SendText(ctx, created.RoomID, "welcome, alice"); err != nil {
		t.Fatal(err)
	}
	if m := a.waitMessage(30*time.Second, "welcome, alice"); m.Chat.ID != chat.ID {
		t.Fatalf("room message in chat %q", m.Chat.ID)
	}
	// Joining again is not an error.
	if again, err := a.c.Join(ctx, created.RoomID.String()); err != nil || again.ID != chat.ID {
		t.Fatalf("join by ID again: %+v %v", again, err)
	}
	if _, err := a.c.Join(ctx, "bob"); !errors.Is(err, protocols.ErrUnknownPeer) {
		t.Fatalf("join of a non-room: %v", err)
	}
	if names := a.c.SelfNames(); !slices.Contains(names, "alice") {
		t.Fatalf("SelfNames %v lack the local part", names)
	}
}
