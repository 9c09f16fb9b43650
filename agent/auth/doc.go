// Package auth signs and checks the agent protocol's requests and replies
// with HMAC-SHA256 over a shared key.
//
// A request carries, in its Authorization header, the key's ID, the name of
// the agent it is addressed to, a Unix timestamp, a random nonce and the MAC
// of all of these with the method, the request URI and the body's SHA-256.
// The agent rejects a request whose MAC is wrong, whose timestamp is further
// than the allowed clock skew from its own clock, whose agent name is not its
// own (a request captured on its way to one agent cannot be replayed to
// another) or whose nonce it has already seen within the timestamp window (a
// replay). Every reply carries the MAC of the request's nonce, method, URI,
// the status and the reply body's SHA-256, so the client rejects a forged
// reply and a replayed one (an old reply names an old nonce).
//
// Keys are at least 32 random bytes, written as hex in key files; a key's ID
// is derived from the key itself, so an agent can accept an old and a new key
// during a rotation without the operator naming them.
package auth
