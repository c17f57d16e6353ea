// Package omemo is OMEMO 0.3 (XEP-0384 as deployed: namespace
// eu.siacs.conversations.axolotl, what Conversations, Dino, Gajim and
// profanity speak) for one XMPP account, on go.mau.fi/libsignal (X3DH,
// double ratchet, version-3 messages, XEdDSA).
//
//	m, err := omemo.Open(ctx, filepath.Join(dataDir, omemo.FileName), key, "alice@example.org", log)
//	err = m.Publish(ctx, iq)                       // device list + bundle, open access
//	enc, err := m.Encrypt(ctx, iq, "bob@example.org", []byte("hi"))
//	d, err := m.Decrypt(ctx, "bob@example.org", enc) // *DecryptError says why and which device
//
// The connector supplies iq (one IQ round trip); this package never opens a
// connection itself.
//
// # Store
//
// omemo.db (SQLite, 0600) holds our identity key pair, signed prekey and
// prekey pool, the sessions with each device, the devices of contacts (and
// of ours) with their identity keys, and the plaintext of messages already
// decrypted. Private keys, sessions and those plaintexts are sealed
// (XChaCha20-Poly1305 under keys derived from the account's store key in
// the keystore); public keys and device ids are not.
//
// # Trust
//
// Trust on first use: a device's identity key is recorded the first time
// it is seen (DeviceNews with Changed false); a different key later for
// the same device id is refused (no message to or from it) and reported
// (Changed true). Devices lists every device with its fingerprint;
// SetCompared records the user's comparison, for the trust UI.
//
// # Once only
//
// A double-ratchet key opens once. Decrypt remembers each decrypted
// element (by a hash of its encrypted form) with its sealed plaintext, so
// the carbon, the archive copy or a replay after a restart of a message
// already decrypted returns the same text instead of a spurious failure.
// RememberSent does the same for what this device sent (we never encrypt
// to ourselves, so our own archive copies could not be read otherwise).
//
// # Hostile input
//
// Device lists over MaxDevices are refused whole; bundles are checked for
// shape and for the XEdDSA signature of the signed prekey (a device with a
// bad one is refused); malformed base64, IVs other than 12 or 16 bytes,
// keys for other devices and payloads that do not authenticate give a
// *DecryptError; libsignal panics on some malformed input, which is
// recovered into an error.
package omemo
