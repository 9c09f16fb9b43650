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
	if err := CheckSecret(secret); err != nil {
		return Key{}, fmt.Errorf("key: %w", err)
	}
	id := sha256.Sum256(append([]byte("vec-agent key id\x00"), secret...))
	return Key{ID: hex.EncodeToString(id[:8]), secret: append([]byte(nil), secret...)}, nil
}

// CheckSecret checks that secret is long enough for a key: at least
// MinKeyBytes bytes. The HA heartbeat key (recovery) is held to it too.
func CheckSecret(secret []byte) error {
	if len(secret) < MinKeyBytes {
		return fmt.Errorf("%d bytes, want at least %d", len(secret), MinKeyBytes)
	}
	return nil
}

// DecodeSecret decodes a key written as hex (surrounding white space
// ignored), as "openssl rand -hex 32" prints one, and checks its length
// (CheckSecret).
func DecodeSecret(text string) ([]byte, error) {
	secret, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	if err := CheckSecret(secret); err != nil {
		return nil, err
	}
	return secret, nil
}

// ReadSecretFile reads a key file holding a key in hex (DecodeSecret): the
// agents' key files and the HA heartbeat key file (recovery) alike. The
// file is checked on the descriptor it is read from (internal/secretfile):
// it must be a regular file owned by root or by the user the process runs
// as, and neither its group nor others (nor any other user or group named
// in a POSIX ACL) may read or write it. Every error names the file.
func ReadSecretFile(path string) ([]byte, error) {
	text, err := secretfile.Read(path, maxKeyFileBytes)
	if err != nil {
		return nil, err
	}
	secret, err := DecodeSecret(string(text))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return secret, nil
}

// ParseKey decodes a key written as hex (DecodeSecret) and makes its Key.
func ParseKey(text string) (Key, error) {
	secret, err := DecodeSecret(text)
	if err != nil {
		return Key{}, fmt.Errorf("key: %w", err)
	}
	return NewKey(secret)
}

// LoadKeyFile reads a key file (ReadSecretFile) and makes its Key.
func LoadKeyFile(path string) (Key, error) {
	secret, err := ReadSecretFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("key file: %w", err)
	}
	return NewKey(secret)
}

// IsZero reports whether k is the zero Key (no key).
func (k Key) IsZero() bool { return len(k.secret) == 0 }
