package whatsapp

import (
	"context"
	"fmt"

	"go.mau.fi/whatsmeow/types"

	"polyglot/protocols"
)

var _ protocols.ContactFinder = (*Connector)(nil)

// FindContact asks WhatsApp whether one phone number has an account,
// through whatsmeow's IsOnWhatsApp. The number goes to WhatsApp's servers
// in the clear (inside the account's Noise-encrypted link, readable by
// WhatsApp): WhatsApp offers no hashed lookup. One number per call, only
// when the user asks.
func (c *Connector) FindContact(ctx context.Context, q protocols.ContactQuery, _ protocols.FindOptions) (protocols.FindResult, error) {
	if !q.IsPhone() {
		return protocols.FindResult{}, fmt.Errorf("WhatsApp finds people by phone number only: %w", protocols.ErrCannotLookUp)
	}
	phone := "+" + q.Phone
	resp, err := c.isOnWhatsApp(ctx, []string{phone})
	if err != nil {
		return protocols.FindResult{}, err
	}
	for _, r := range resp {
		if !r.IsIn {
			continue
		}
		j := r.JID
		if j.Server == types.HiddenUserServer || j.IsEmpty() {
			j = c.phoneJID(ctx, r.JID, r.PhoneNumber)
		}
		if j.IsEmpty() {
			j = types.NewJID(q.Phone, types.DefaultUserServer)
		}
		return protocols.FindResult{Found: true, Address: c.address(j), By: "phone number"}, nil
	}
	return protocols.FindResult{By: "phone number"}, nil
}

// isOnWhatsApp is whatsmeow's IsOnWhatsApp (the boundary where the number
// leaves the device); tests replace it through lookupHook.
func (c *Connector) isOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error) {
	if c.lookupHook != nil {
		return c.lookupHook(ctx, phones)
	}
	if !c.connected() {
		return nil, protocols.ErrNotConnected
	}
	return c.cli.IsOnWhatsApp(ctx, phones)
}
