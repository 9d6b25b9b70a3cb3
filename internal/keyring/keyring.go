// Package keyring encrypts secrets at rest (AES-256-GCM) and derives the keys
// that authenticate Warden's own records, all from WARDEN_SECRET_KEY.
//
// Every sealed value names the key that sealed it, so a new key can become
// primary while older values still open with the key they were sealed under.
// Every value is also bound to where it lives (table, column and row): a
// ciphertext copied onto another row does not open.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the size of a master key: 32 bytes, for AES-256.
const KeySize = 32

// sealedVersion is the first byte of every sealed value, so the format can change later.
const sealedVersion = 1

// ErrCannotOpen means a sealed value was damaged, moved to another row, or
// sealed under a key this keyring does not hold. Which one is not told.
var ErrCannotOpen = errors.New("keyring: sealed value cannot be opened")

// Keyring holds the master keys. The zero value holds none and seals nothing.
type Keyring struct {
	primaryID string
	masters   map[string][]byte
}

// New makes a keyring whose primary (sealing) key is primary; older keys still open what they sealed.
func New(primary []byte, older ...[]byte) (*Keyring, error) {
	k := &Keyring{masters: map[string][]byte{}}
	for i, key := range append([][]byte{primary}, older...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("keyring: key %d is %d bytes, want %d", i, len(key), KeySize)
		}
		id := KeyID(key)
		if i == 0 {
			k.primaryID = id
		}
		k.masters[id] = append([]byte(nil), key...)
	}
	return k, nil
}

// KeyID names a master key without revealing it: the first 8 hex digits of a hash of it.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("warden key id\x00"), key...))
	return hex.EncodeToString(sum[:4])
}

// PrimaryID names the key new values are sealed and authenticated with.
func (k *Keyring) PrimaryID() string { return k.primaryID }

// Binding says where a sealed value lives; it is authenticated with the value.
func Binding(table, column, rowID string) []byte {
	return []byte(table + "\x00" + column + "\x00" + rowID)
}

// Seal encrypts plaintext under the primary key, bound to its place.
func (k *Keyring) Seal(plaintext, binding []byte) ([]byte, error) {
	aead, err := k.aead(k.primaryID)
	if err != nil {
		return nil, err
	}
	id := k.primaryID
	out := make([]byte, 0, 2+len(id)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, sealedVersion, byte(len(id)))
	out = append(out, id...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keyring: nonce: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, binding), nil
}

// Open decrypts a value made by Seal with the same binding.
func (k *Keyring) Open(sealed, binding []byte) ([]byte, error) {
	if len(sealed) < 2 || sealed[0] != sealedVersion {
		return nil, ErrCannotOpen
	}
	idLen := int(sealed[1])
	if len(sealed) < 2+idLen {
		return nil, ErrCannotOpen
	}
	id := string(sealed[2 : 2+idLen])
	aead, err := k.aead(id)
	if err != nil {
		return nil, ErrCannotOpen
	}
	rest := sealed[2+idLen:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrCannotOpen
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], binding)
	if err != nil {
		return nil, ErrCannotOpen
	}
	return plain, nil
}

func (k *Keyring) aead(id string) (cipher.AEAD, error) {
	key, err := k.Derive(id, "seal")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return cipher.NewGCM(block)
}

// Derive returns a 32-byte key for one purpose (HKDF-SHA256 of the master key
// named id), so that no two uses of a master key ever share a key.
func (k *Keyring) Derive(id, purpose string) ([]byte, error) {
	if k == nil {
		return nil, errors.New("keyring: no keys")
	}
	master, ok := k.masters[id]
	if !ok {
		return nil, fmt.Errorf("keyring: no key with id %q", id)
	}
	key, err := hkdf.Key(sha256.New, master, nil, "warden/"+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("keyring: derive %s key: %w", purpose, err)
	}
	return key, nil
}
