package whatsapp

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"go.mau.fi/whatsmeow/types"

	"polyglot/protocols"
)

// TestContactFindWhatsApp: a lookup is one call to whatsmeow's
// IsOnWhatsApp with exactly the number asked for ("+" and digits, as
// whatsmeow wants it), the answer's JID is the address found, a number
// WhatsApp does not know is "not found", and an email address never
// reaches WhatsApp.
func TestContactFindWhatsApp(t *testing.T) {
	r := newRig(t)
	var calls [][]string
	known := types.NewJID("491711111111", types.DefaultUserServer)
	r.c.lookupHook = func(_ context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error) {
		calls = append(calls, append([]string(nil), phones...))
		if phones[0] == "+491711111111" {
			return []types.IsOnWhatsAppResponse{{Query: phones[0], JID: known, IsIn: true}}, nil
		}
		return []types.IsOnWhatsAppResponse{{Query: phones[0], JID: types.NewJID(phones[0][1:], types.DefaultUserServer)}}, nil
	}
	ctx := context.Background()
	res, err := r.c.FindContact(ctx, protocols.ContactQuery{Phone: "491711111111"}, protocols.FindOptions{})
	if err != nil || !res.Found || res.Address.ID != "491711111111@s.whatsapp.net" || res.Address.Network != protocols.WhatsApp || res.By != "phone number" {
		t.Fatalf("known number: %+v, %v", res, err)
	}
	res, err = r.c.FindContact(ctx, protocols.ContactQuery{Phone: "491799999999"}, protocols.FindOptions{})
	if err != nil || res.Found {
		t.Fatalf("unknown number: %+v, %v", res, err)
	}
	if _, err := r.c.FindContact(ctx, protocols.ContactQuery{Address: "bob@example.org"}, protocols.FindOptions{}); !errors.Is(err, protocols.ErrCannotLookUp) {
		t.Fatalf("email address: %v", err)
	}
	want := [][]string{{"+491711111111"}, {"+491799999999"}}
	if !reflect.DeepEqual(calls, want) {
		t.Fatalf("IsOnWhatsApp calls %q, want %q (one number per lookup, nothing else)", calls, want)
	}
	// Without the seam an offline connector asks nobody.
	r.c.lookupHook = nil
	if _, err := r.c.FindContact(ctx, protocols.ContactQuery{Phone: "491711111111"}, protocols.FindOptions{}); !errors.Is(err, protocols.ErrNotConnected) {
		t.Fatalf("offline: %v", err)
	}
}
