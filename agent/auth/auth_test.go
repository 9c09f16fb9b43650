package auth

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testKey(t *testing.T, fill byte) Key {
	t.Helper()
	k, err := NewKey(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newVerifier(t *testing.T, clock *fakeClock, keys ...Key) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{Agent: "srv1", Keys: keys, MaxSkew: 30 * time.Second, Now: clock.now, MaxNonces: 100})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func signed(t *testing.T, key Key, agent string, at time.Time, body string) (*http.Request, Signed) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/connections", strings.NewReader(body))
	s, err := SignRequest(r, []byte(body), key, agent, at)
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

func TestVerifyAcceptsSignedRequest(t *testing.T) {
	clock := &fakeClock{time.Unix(1_700_000_000, 0)}
	key := testKey(t, 1)
	v := newVerifier(t, clock, testKey(t, 9), key)
	r, s := signed(t, key, "srv1", clock.t.Add(-10*time.Second), `{"vips":["10.0.0.1"]}`)
	req, err := v.Verify(r, []byte(`{"vips":["10.0.0.1"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.Nonce != s.Nonce() || req.KeyID != key.ID {
		t.Fatalf("verified %+v", req.Credentials)
	}
}

func TestVerifyRejects(t *testing.T) {
	clock := &fakeClock{time.Unix(1_700_000_000, 0)}
	key := testKey(t, 1)
	body := `{"vips":["10.0.0.1"]}`
	cases := []struct {
		name    string
		request func() (*http.Request, []byte)
		want    string
	}{
		{"no credentials", func() (*http.Request, []byte) {
			return httptest.NewRequest(http.MethodPost, "/v1/connections", nil), nil
		}, "missing Authorization header"},
		{"other scheme", func() (*http.Request, []byte) {
			r := httptest.NewRequest(http.MethodPost, "/v1/connections", nil)
			r.Header.Set("Authorization", "Bearer abc")
			return r, nil
		}, "scheme is not"},
		{"wrong key", func() (*http.Request, []byte) {
			r, _ := signed(t, testKey(t, 2), "srv1", clock.t, body)
			return r, []byte(body)
		}, "unknown key"},
		{"altered body", func() (*http.Request, []byte) {
			r, _ := signed(t, key, "srv1", clock.t, body)
			return r, []byte(`{"vips":["10.0.0.2"]}`)
		}, "signature does not match"},
		{"altered path", func() (*http.Request, []byte) {
			r, _ := signed(t, key, "srv1", clock.t, body)
			r.URL.Path = "/v1/metrics"
			return r, []byte(body)
		}, "signature does not match"},
		{"altered method", func() (*http.Request, []byte) {
			r, _ := signed(t, key, "srv1", clock.t, body)
			r.Method = http.MethodPut
			return r, []byte(body)
		}, "signature does not match"},
		{"forged MAC, right key ID", func() (*http.Request, []byte) {
			r, _ := signed(t, key, "srv1", clock.t, body)
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:len(h)-4]+"0000")
			return r, []byte(body)
		}, "signature does not match"},
		{"addressed to another agent", func() (*http.Request, []byte) {
			r, _ := signed(t, key, "srv2", clock.t, body)
			return r, []byte(body)
		}, `addressed to agent "srv2"`},
		{"stale timestamp", func() (*http.Request, []byte) {
			r, _ := signed(t, key, "srv1", clock.t.Add(-31*time.Second), body)
			return r, []byte(body)
		}, "outside ±30s"},
		{"timestamp from the future", func() (*http.Request, []byte) {
			r, _ := signed(t, key, "srv1", clock.t.Add(31*time.Second), body)
			return r, []byte(body)
		}, "outside ±30s"},
		{"repeated field", func() (*http.Request, []byte) {
			r, _ := signed(t, key, "srv1", clock.t, body)
			r.Header.Set("Authorization", r.Header.Get("Authorization")+",ts=1")
			return r, []byte(body)
		}, "malformed or repeated"},
		{"missing field", func() (*http.Request, []byte) {
			r := httptest.NewRequest(http.MethodPost, "/v1/connections", nil)
			r.Header.Set("Authorization", Scheme+" key=ab,agent=srv1,ts=1,nonce=00112233445566778899aabbccddeeff")
			return r, nil
		}, "missing field sig"},
		{"short nonce", func() (*http.Request, []byte) {
			r := httptest.NewRequest(http.MethodPost, "/v1/connections", nil)
			r.Header.Set("Authorization", Scheme+" key=ab,agent=srv1,ts=1,nonce=00,sig=00")
			return r, nil
		}, "field nonce"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier(t, clock, key)
			r, b := c.request()
			_, err := v.Verify(r, b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestVerifyRejectsReplayWithinWindow(t *testing.T) {
	clock := &fakeClock{time.Unix(1_700_000_000, 0)}
	key := testKey(t, 1)
	v := newVerifier(t, clock, key)
	// Signed at the edge of the window into the future: replayable until
	// 2·skew after it was first accepted.
	r, _ := signed(t, key, "srv1", clock.t.Add(30*time.Second), "")
	if _, err := v.Verify(r, nil); err != nil {
		t.Fatal(err)
	}
	for _, later := range []time.Duration{0, 15 * time.Second, 45 * time.Second, 60 * time.Second} {
		clock.t = time.Unix(1_700_000_000, 0).Add(later)
		// Other traffic rotates the cache generations meanwhile.
		other, _ := signed(t, key, "srv1", clock.t, "")
		if _, err := v.Verify(other, nil); err != nil {
			t.Fatalf("+%s: fresh request: %v", later, err)
		}
		if _, err := v.Verify(r, nil); err == nil || !strings.Contains(err.Error(), "replayed") {
			t.Fatalf("+%s: replay: %v, want replay refusal", later, err)
		}
	}
	clock.t = time.Unix(1_700_000_000, 0).Add(61 * time.Second)
	if _, err := v.Verify(r, nil); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("replay after the window: %v, want the timestamp refusal", err)
	}
}

func TestNonceCacheFull(t *testing.T) {
	clock := &fakeClock{time.Unix(1_700_000_000, 0)}
	key := testKey(t, 1)
	v, err := NewVerifier(VerifierConfig{Agent: "srv1", Keys: []Key{key}, Now: clock.now, MaxNonces: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		r, _ := signed(t, key, "srv1", clock.t, "")
		_, err := v.Verify(r, nil)
		if i < 3 && err != nil {
			t.Fatal(err)
		}
		if i == 3 && !errors.Is(err, ErrNonceCacheFull) {
			t.Fatalf("4th request: %v, want ErrNonceCacheFull", err)
		}
	}
	clock.t = clock.t.Add(2 * time.Minute)
	r, _ := signed(t, key, "srv1", clock.t, "")
	if _, err := v.Verify(r, nil); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestReplySignature(t *testing.T) {
	clock := &fakeClock{time.Unix(1_700_000_000, 0)}
	key := testKey(t, 1)
	v := newVerifier(t, clock, key)
	r, s := signed(t, key, "srv1", clock.t, "")
	req, err := v.Verify(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"server":"srv1"}`)
	h := http.Header{}
	v.SignReply(req, h, 200, body)
	if err := s.VerifyReply(200, h, body); err != nil {
		t.Fatalf("genuine reply: %v", err)
	}

	_, s2 := signed(t, key, "srv1", clock.t, "")
	if err := s2.VerifyReply(200, h, body); err == nil {
		t.Error("reply to another request (replayed reply) accepted")
	}
	if err := s.VerifyReply(200, h, []byte(`{"server":"srv2"}`)); err == nil {
		t.Error("altered reply body accepted")
	}
	if err := s.VerifyReply(500, h, body); err == nil {
		t.Error("altered status accepted")
	}
	if err := s.VerifyReply(200, http.Header{}, body); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("unsigned reply: %v", err)
	}
	other := newVerifier(t, clock, testKey(t, 3))
	forged := http.Header{}
	other.SignReply(Request{Credentials: req.Credentials, key: testKey(t, 3), method: req.method, uri: req.uri}, forged, 200, body)
	if err := s.VerifyReply(200, forged, body); err == nil {
		t.Error("reply signed with another key accepted")
	}
}

func TestKeys(t *testing.T) {
	if _, err := NewKey(make([]byte, 31)); err == nil {
		t.Error("31-byte key accepted")
	}
	if _, err := ParseKey("zz"); err == nil {
		t.Error("non-hex key accepted")
	}
	if _, err := ParseKey(strings.Repeat("01", 31)); err == nil {
		t.Error("31-byte hex key accepted")
	}
	a, b := testKey(t, 1), testKey(t, 2)
	if a.ID == b.ID || len(a.ID) != 16 {
		t.Errorf("key IDs %q %q", a.ID, b.ID)
	}
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(strings.Repeat("01", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyFile(path)
	if err != nil || k.ID != a.ID {
		t.Errorf("LoadKeyFile: %v, ID %q want %q", err, k.ID, a.ID)
	}
}
