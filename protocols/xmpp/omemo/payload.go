package omemo

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealPayload encrypts plain with AES-128-GCM under a fresh key and 12-byte
// IV. OMEMO 0.3 sends the ciphertext without the tag as <payload>; the key
// and the tag (key ‖ tag, 32 bytes) go to each device through its session.
func sealPayload(plain []byte) (payload, iv, keyTag []byte, err error) {
	key := make([]byte, 16)
	iv = make([]byte, 12)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, nil, nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, nil, err
	}
	ct := gcm.Seal(nil, iv, plain, nil)
	n := len(ct) - gcm.Overhead()
	return ct[:n], iv, append(key, ct[n:]...), nil
}

// openPayload reverses sealPayload. keyTag is the 32 bytes from the
// session (key ‖ tag); 16 bytes means an old client that appended the tag to
// the payload instead. IVs of 12 and 16 bytes are accepted.
func openPayload(keyTag, iv, payload []byte) ([]byte, error) {
	var key, tag []byte
	switch {
	case len(keyTag) >= 32:
		key, tag = keyTag[:16], keyTag[16:32]
	case len(keyTag) == 16:
		if len(payload) < 16 {
			return nil, errors.New("payload too short for its tag")
		}
		key, tag, payload = keyTag, payload[len(payload)-16:], payload[:len(payload)-16]
	default:
		return nil, fmt.Errorf("message key is %d bytes, want 32", len(keyTag))
	}
	if len(iv) != 12 && len(iv) != 16 {
		return nil, fmt.Errorf("IV is %d bytes", len(iv))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, err
	}
	ct := make([]byte, 0, len(payload)+len(tag))
	ct = append(append(ct, payload...), tag...)
	plain, err := gcm.Open(nil, iv, ct, nil)
	if err != nil {
		return nil, errors.New("payload does not authenticate (damaged or forged)")
	}
	return plain, nil
}
