package demo

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"polyglot/protocols"
)

func TestJoinRoomsAndSelfNames(t *testing.T) {
	w := newWorld(t, 1, 50)
	ctx := context.Background()
	mx := account(t, w, protocols.Matrix).Connector
	j := mx.(protocols.Joiner)
	if _, err := j.Join(ctx, "#hike:matrix.example"); !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("join before Connect: %v", err)
	}
	connect(t, w, protocols.Matrix)

	// The hike room is joined already: its alias names it.
	chat, err := j.Join(ctx, "#hike:matrix.example")
	if err != nil || chat.ID != "!hike:matrix.example" || !chat.Group {
		t.Fatalf("join #hike: %+v %v", chat, err)
	}
	// A new room is empty; sending there works and nobody answers.
	chat, err = j.Join(ctx, "#book-club:matrix.example")
	if err != nil || chat.ID != "!book-club:matrix.example" || chat.Name != "book-club" {
		t.Fatalf("join a new room: %+v %v", chat, err)
	}
	res, err := mx.Send(ctx, protocols.OutgoingMessage{ClientID: "b1", To: protocols.Address{Network: protocols.Matrix, ID: string(chat.ID)}, Chat: chat.ID, Group: true, Body: "first!"})
	if err != nil || res.Chat != chat.ID {
		t.Fatalf("send to the new room: %+v %v", res, err)
	}
	if _, err := j.Join(ctx, "hike"); !errors.Is(err, protocols.ErrUnknownPeer) {
		t.Fatalf("a bad alias: %v", err)
	}
	if _, err := account(t, w, protocols.WhatsApp).Connector.(protocols.Joiner).Join(ctx, "x@g.us"); !errors.Is(err, protocols.ErrUnsupported) && !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("WhatsApp join: %v", err)
	}

	for n, want := range map[protocols.Network][]string{
		protocols.Matrix: {"Robin", "robin"}, protocols.XMPP: {"Robin", "robin"}, protocols.WhatsApp: {"Robin", "15550100000"},
	} {
		if got := account(t, w, n).Connector.(protocols.SelfNamer).SelfNames(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s SelfNames = %v, want %v", n, got, want)
		}
	}
}
