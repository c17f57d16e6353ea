// Package whatsapp is the WhatsApp protocols.Connector, built on
// go.mau.fi/whatsmeow: Polyglot is a linked device of the user's phone
// (QR code or 8-character pairing code), keeps whatsmeow's device store in
// one whatsapp.db per account (0600), and turns whatsmeow's typed events
// into protocols events at one type switch (inbound.go).
//
// What the user sees relies on a few rules:
//   - Encryption: every WhatsApp message is end-to-end encrypted (Signal
//     protocol), so messages are EncE2EE; with a contact whose security
//     code the user compared (securitycode.go) they are EncE2EEVerified
//     until the contact's identity key changes (events.IdentityChange).
//   - Consent: read receipts and typing go only to senders the core says
//     the user accepted (Config.Accepted); Polyglot never announces global
//     presence. Delivery receipts are the protocol's own acknowledgement:
//     whatsmeow sends them for every message it decrypts, as every
//     WhatsApp client does.
//   - Idempotent send: the WhatsApp message ID for a ClientID is chosen
//     (cli.GenerateMessageID) and stored in whatsapp.db before the first
//     attempt, so a retry after a crash resends the same ID and the peer
//     sees one message.
//   - Nothing acknowledged is lost: a live message's handler waits for the
//     store to commit its checkpoint before whatsmeow acks it; if it does
//     not, the handler fails (no ack) and the session ends, so WhatsApp
//     delivers it again after the supervisor reconnects.
//   - No WhatsApp server can run in tests: tests feed whatsmeow's own
//     event types through the connector and assert the protobufs that
//     would be sent (outbound building is separate from SendMessage).
package whatsapp
