package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Scheme is the Authorization scheme of a signed request.
const Scheme = "VEC-HMAC-SHA256"

// ReplySignatureHeader carries a reply's MAC, in hex.
const ReplySignatureHeader = "Vec-Reply-Signature"

// nonceBytes is the random part of a nonce (sent as hex).
const nonceBytes = 16

// maxHeaderLen bounds the Authorization header parsed.
const maxHeaderLen = 1024

// Domain-separation prefixes: a request MAC can never pass as a reply MAC.
const (
	requestDomain = "vec-agent-request-v1"
	replyDomain   = "vec-agent-reply-v1"
)

// Credentials are the fields of a signed request's Authorization header.
type Credentials struct {
	KeyID     string
	Agent     string
	Timestamp int64 // Unix seconds
	Nonce     string
	MAC       []byte
}

// Signed is a request signed by SignRequest: what its reply must be bound to.
type Signed struct {
	key    Key
	agent  string
	method string
	uri    string
	nonce  string
}

// Nonce returns the request's nonce.
func (s Signed) Nonce() string { return s.nonce }

// SignRequest signs req, whose body is body, for the agent named agent with
// key, at time now: it sets the Authorization header. The request's method
// and URL must not change afterwards.
func SignRequest(req *http.Request, body []byte, key Key, agent string, now time.Time) (Signed, error) {
	if key.IsZero() {
		return Signed{}, errors.New("sign request: no key")
	}
	if err := checkToken("agent name", agent); err != nil {
		return Signed{}, fmt.Errorf("sign request: %w", err)
	}
	raw := make([]byte, nonceBytes)
	if _, err := rand.Read(raw); err != nil {
		return Signed{}, fmt.Errorf("sign request: nonce: %w", err)
	}
	c := Credentials{KeyID: key.ID, Agent: agent, Timestamp: now.Unix(), Nonce: hex.EncodeToString(raw)}
	uri := req.URL.RequestURI()
	c.MAC = requestMAC(key, c, req.Method, uri, body)
	req.Header.Set("Authorization", c.header())
	return Signed{key: key, agent: agent, method: req.Method, uri: uri, nonce: c.Nonce}, nil
}

// VerifyReply checks a reply's signature: made with the request's key, for
// this request's nonce, method and URI, this status and this body.
func (s Signed) VerifyReply(status int, header http.Header, body []byte) error {
	sig := header.Get(ReplySignatureHeader)
	if sig == "" {
		return errors.New("reply is not signed")
	}
	mac, err := hex.DecodeString(sig)
	if err != nil || len(mac) != sha256.Size {
		return errors.New("reply signature is not a hex HMAC-SHA256")
	}
	if !hmac.Equal(mac, replyMAC(s.key, s.agent, s.method, s.uri, s.nonce, status, body)) {
		return errors.New("reply signature does not match (forged reply, a reply to another request, or another key)")
	}
	return nil
}

func (c Credentials) header() string {
	return fmt.Sprintf("%s key=%s,agent=%s,ts=%d,nonce=%s,sig=%s",
		Scheme, c.KeyID, c.Agent, c.Timestamp, c.Nonce, hex.EncodeToString(c.MAC))
}

// ParseAuthorization parses an Authorization header of the Scheme; the
// errors say what is wrong, for the 401 reply.
func ParseAuthorization(h string) (Credentials, error) {
	if h == "" {
		return Credentials{}, errors.New("missing Authorization header (" + Scheme + " signature required)")
	}
	if len(h) > maxHeaderLen {
		return Credentials{}, fmt.Errorf("authorization header longer than %d bytes", maxHeaderLen)
	}
	params, ok := strings.CutPrefix(h, Scheme+" ")
	if !ok {
		return Credentials{}, errors.New("authorization scheme is not " + Scheme)
	}
	var c Credentials
	seen := map[string]bool{}
	for field := range strings.SplitSeq(params, ",") {
		name, value, ok := strings.Cut(field, "=")
		if !ok || seen[name] {
			return Credentials{}, fmt.Errorf("authorization: malformed or repeated field %q", field)
		}
		seen[name] = true
		var err error
		switch name {
		case "key":
			c.KeyID, err = value, checkToken("key", value)
		case "agent":
			c.Agent, err = value, checkToken("agent", value)
		case "ts":
			c.Timestamp, err = strconv.ParseInt(value, 10, 64)
		case "nonce":
			c.Nonce = value
			if raw, herr := hex.DecodeString(value); herr != nil || len(raw) != nonceBytes {
				err = fmt.Errorf("want %d hex digits", 2*nonceBytes)
			}
		case "sig":
			c.MAC, err = hex.DecodeString(value)
			if err == nil && len(c.MAC) != sha256.Size {
				err = fmt.Errorf("want %d hex digits", 2*sha256.Size)
			}
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return Credentials{}, fmt.Errorf("authorization field %s: %w", name, err)
		}
	}
	for _, name := range []string{"key", "agent", "ts", "nonce", "sig"} {
		if !seen[name] {
			return Credentials{}, fmt.Errorf("authorization: missing field %s", name)
		}
	}
	return c, nil
}

// checkToken accepts names made of letters, digits and ._:-[] (host names,
// IPv4 and IPv6 addresses), which need no quoting in a header.
func checkToken(what, s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("%s must have 1 to 255 characters", what)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-[]", r)
		if !ok {
			return fmt.Errorf("%s %q has a character outside [A-Za-z0-9._:-[]]", what, s)
		}
	}
	return nil
}

func requestMAC(key Key, c Credentials, method, uri string, body []byte) []byte {
	bodyHash := sha256.Sum256(body)
	m := hmac.New(sha256.New, key.secret)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%s\n%d\n%s\n%x", requestDomain, c.KeyID, c.Agent, method, uri, c.Timestamp, c.Nonce, bodyHash)
	return m.Sum(nil)
}

func replyMAC(key Key, agent, method, uri, nonce string, status int, body []byte) []byte {
	bodyHash := sha256.Sum256(body)
	m := hmac.New(sha256.New, key.secret)
	fmt.Fprintf(m, "%s\n%s\n%s\n%s\n%s\n%d\n%x", replyDomain, agent, method, uri, nonce, status, bodyHash)
	return m.Sum(nil)
}
