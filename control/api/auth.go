package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"

	"vec/internal/secretfile"
)

// Role is what a token may do.
type Role string

// Roles.
const (
	// RoleAdmin may read and change everything.
	RoleAdmin Role = "admin"
	// RoleReadOnly may only read (GET).
	RoleReadOnly Role = "read-only"
)

// MinTokenLength is the shortest token accepted in the tokens file: 16
// characters (e.g. `openssl rand -hex 16` gives 32).
const MinTokenLength = 16

// Identity is who made a request.
type Identity struct {
	Name string
	Role Role
}

type tokenEntry struct {
	hash [32]byte
	id   Identity
}

// Tokens holds the accepted bearer tokens; Load replaces them.
type Tokens struct {
	mu      sync.RWMutex
	entries []tokenEntry
}

// parseTokens reads a tokens file: one token per line as "<role> <name>
// <token>", role admin or read-only; blank lines and lines starting with #
// are ignored. Only SHA-256 digests of the tokens are kept.
func parseTokens(data []byte) ([]tokenEntry, error) {
	var out []tokenEntry
	names := map[string]int{}
	hashes := map[[32]byte]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"<role> <name> <token>\", got %d fields", n, len(f))
		}
		role := Role(f[0])
		if role != RoleAdmin && role != RoleReadOnly {
			return nil, fmt.Errorf("line %d: role %q is not admin or read-only", n, f[0])
		}
		if prev, dup := names[f[1]]; dup {
			return nil, fmt.Errorf("line %d: name %q is already used on line %d", n, f[1], prev)
		}
		if len(f[2]) < MinTokenLength {
			return nil, fmt.Errorf("line %d: the token of %q is shorter than %d characters", n, f[1], MinTokenLength)
		}
		h := sha256.Sum256([]byte(f[2]))
		if prev, dup := hashes[h]; dup {
			return nil, fmt.Errorf("line %d: the token of %q is the same as on line %d", n, f[1], prev)
		}
		names[f[1]], hashes[h] = n, n
		out = append(out, tokenEntry{hash: h, id: Identity{Name: f[1], Role: role}})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no tokens")
	}
	return out, nil
}

// maxTokensFileBytes bounds a tokens file read.
const maxTokensFileBytes = 1 << 20

// Load reads the tokens file at path and replaces the tokens; on error the
// old ones stay. The file is checked on the descriptor it is read from
// (internal/secretfile): a regular file owned by root or by vecd's user,
// that neither its group nor others (nor anyone named in an ACL) may read
// or write.
func (t *Tokens) Load(path string) error {
	data, err := secretfile.Read(path, maxTokensFileBytes)
	if err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	entries, err := parseTokens(data)
	if err != nil {
		return fmt.Errorf("tokens file %s: %w", path, err)
	}
	t.set(entries)
	return nil
}

// set replaces the tokens.
func (t *Tokens) set(entries []tokenEntry) {
	t.mu.Lock()
	t.entries = entries
	t.mu.Unlock()
}

var (
	errNoToken  = errors.New("no bearer token: send the header \"Authorization: Bearer <token>\"")
	errBadToken = errors.New("the bearer token is not valid")
)

// Verify checks the Authorization header. Every known token is compared,
// in constant time, whatever matches.
func (t *Tokens) Verify(header string) (Identity, error) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		// RFC 6750 allows the scheme in any case.
		if len(header) > 7 && strings.EqualFold(header[:7], "bearer ") {
			token, ok = header[7:], true
		}
	}
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		return Identity{}, errNoToken
	}
	h := sha256.Sum256([]byte(token))
	t.mu.RLock()
	defer t.mu.RUnlock()
	var found Identity
	match := 0
	for _, e := range t.entries {
		eq := subtle.ConstantTimeCompare(h[:], e.hash[:])
		if eq == 1 {
			found = e.id
		}
		match |= eq
	}
	if match == 0 {
		return Identity{}, errBadToken
	}
	return found, nil
}
