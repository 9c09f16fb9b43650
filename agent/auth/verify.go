package auth

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxSkew is the default tolerance between the gateway's and the
// agent's clocks, and so the window a request's timestamp must fall in.
const DefaultMaxSkew = 30 * time.Second

// DefaultMaxNonces bounds the nonces remembered per window generation.
const DefaultMaxNonces = 100000

// ErrNonceCacheFull is returned while more validly signed requests arrive
// within one window than the nonce cache holds: only a key holder can cause
// it, and refusing is the safe answer (the caller replies 503).
var ErrNonceCacheFull = errors.New("too many requests within the replay window (nonce cache full)")

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Agent is this agent's own name; requests must be addressed to it.
	Agent string
	// Keys are the accepted keys (more than one during a key rotation).
	Keys []Key
	// MaxSkew is the accepted distance between a request's timestamp and
	// the local clock; 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// MaxNonces bounds the nonce cache per generation; 0 means
	// DefaultMaxNonces.
	MaxNonces int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks signed requests on the agent and signs its replies. It is
// safe for concurrent use.
type Verifier struct {
	agent   string
	keys    map[string]Key
	maxSkew time.Duration
	now     func() time.Time

	mu     sync.Mutex
	nonces nonceCache
}

// NewVerifier checks cfg and returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if err := checkToken("agent name", cfg.Agent); err != nil {
		return nil, err
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("verifier: no key")
	}
	v := &Verifier{agent: cfg.Agent, keys: map[string]Key{}, maxSkew: cfg.MaxSkew, now: cfg.Now}
	for _, k := range cfg.Keys {
		if k.IsZero() {
			return nil, errors.New("verifier: empty key")
		}
		v.keys[k.ID] = k
	}
	if v.maxSkew <= 0 {
		v.maxSkew = DefaultMaxSkew
	}
	if v.now == nil {
		v.now = time.Now
	}
	maxNonces := cfg.MaxNonces
	if maxNonces <= 0 {
		maxNonces = DefaultMaxNonces
	}
	// A request accepted at t names a timestamp of at most t+skew, so it can
	// be replayed until t+2·skew; a generation lasts 2·skew and is kept one
	// more, so its nonces outlive that (see nonceCache.add).
	v.nonces = nonceCache{period: 2 * v.maxSkew, max: maxNonces}
	return v, nil
}

// Request is a verified request: what the reply is signed for.
type Request struct {
	Credentials
	key    Key
	method string
	uri    string
}

// Verify checks r's signature over its method, URI and body (already read).
// The error explains the refusal; every error but ErrNonceCacheFull means
// "401 Unauthorized".
func (v *Verifier) Verify(r *http.Request, body []byte) (Request, error) {
	c, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return Request{}, err
	}
	key, ok := v.keys[c.KeyID]
	if !ok {
		return Request{}, fmt.Errorf("unknown key %s (not one of this agent's keys)", c.KeyID)
	}
	uri := r.URL.RequestURI()
	if !hmac.Equal(c.MAC, requestMAC(key, c, r.Method, uri, body)) {
		return Request{}, errors.New("signature does not match the request (wrong key, or the request was altered)")
	}
	if c.Agent != v.agent {
		return Request{}, fmt.Errorf("request is addressed to agent %q, this is %q", c.Agent, v.agent)
	}
	now := v.now()
	skew := now.Sub(time.Unix(c.Timestamp, 0))
	if skew > v.maxSkew || skew < -v.maxSkew {
		return Request{}, fmt.Errorf("timestamp %d is %s from this agent's clock, outside ±%s (stale request or clock skew)",
			c.Timestamp, skew.Round(time.Second), v.maxSkew)
	}
	v.mu.Lock()
	fresh, err := v.nonces.add(c.Nonce, now)
	v.mu.Unlock()
	if err != nil {
		return Request{}, err
	}
	if !fresh {
		return Request{}, errors.New("nonce already used: replayed request")
	}
	return Request{Credentials: c, key: key, method: r.Method, uri: uri}, nil
}

// SignReply sets the reply's signature header for status and body.
func (v *Verifier) SignReply(req Request, h http.Header, status int, body []byte) {
	mac := replyMAC(req.key, v.agent, req.method, req.uri, req.Nonce, status, body)
	h.Set(ReplySignatureHeader, hex.EncodeToString(mac))
}

// nonceCache remembers nonces in two generations of period each: a nonce
// stays at least one full period after the one it was added in, and is
// forgotten within two, at O(1) cost per request and no scan.
type nonceCache struct {
	period      time.Duration
	max         int
	cur, prev   map[string]struct{}
	currentFrom time.Time
}

// add records nonce at time now; fresh is false if it was already there.
func (c *nonceCache) add(nonce string, now time.Time) (fresh bool, err error) {
	switch age := now.Sub(c.currentFrom); {
	case c.cur == nil || age >= 2*c.period:
		c.prev, c.cur, c.currentFrom = nil, map[string]struct{}{}, now
	case age >= c.period:
		c.prev, c.cur, c.currentFrom = c.cur, map[string]struct{}{}, now
	}
	if _, seen := c.cur[nonce]; seen {
		return false, nil
	}
	if _, seen := c.prev[nonce]; seen {
		return false, nil
	}
	if len(c.cur) >= c.max {
		return false, ErrNonceCacheFull
	}
	c.cur[nonce] = struct{}{}
	return true, nil
}
