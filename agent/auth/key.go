package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"vec/internal/secretfile"
)

// MinKeyBytes is the shortest key accepted: as long as the HMAC's hash.
const MinKeyBytes = 32

// maxKeyFileBytes bounds a key file read (a key is a line of hex).
const maxKeyFileBytes = 4 << 10

// Key is a shared HMAC key and its ID.
type Key struct {
	// ID names the key in signed requests: the first 8 bytes of a SHA-256
	// of the key, in hex. It reveals nothing usable about the key.
	ID     string
	secret []byte
}

// NewKey makes a Key of secret (copied), which must hold at least
// MinKeyBytes bytes.
func NewKey(secret []byte) (Key, error) {
	if len(secret) < MinKeyBytes {
		return Key{}, fmt.Errorf("key has %d bytes, want at least %d", len(secret), MinKeyBytes)
	}
	id := sha256.Sum256(append([]byte("vec-agent key id\x00"), secret...))
	return Key{ID: hex.EncodeToString(id[:8]), secret: append([]byte(nil), secret...)}, nil
}

// ParseKey decodes a key written as hex (surrounding white space ignored),
// as "openssl rand -hex 32" prints one.
func ParseKey(text string) (Key, error) {
	secret, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return Key{}, fmt.Errorf("key is not hex: %w", err)
	}
	return NewKey(secret)
}

// LoadKeyFile reads a key file holding the key in hex. The file is checked
// on the descriptor it is read from (internal/secretfile): it must be a
// regular file owned by root or by the user the process runs as, and
// neither its group nor others (nor any other user or group named in a POSIX
// ACL) may read or write it.
func LoadKeyFile(path string) (Key, error) {
	text, err := secretfile.Read(path, maxKeyFileBytes)
	if err != nil {
		return Key{}, fmt.Errorf("key file: %w", err)
	}
	k, err := ParseKey(string(text))
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// IsZero reports whether k is the zero Key (no key).
func (k Key) IsZero() bool { return len(k.secret) == 0 }
