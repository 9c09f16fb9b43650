package api

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// The status page's files are served without a token, with a policy that
// keeps the page to vecd's origin; anything else still needs one.
func TestStatusPageServed(t *testing.T) {
	e := newAPIEnv(t)
	for _, c := range []struct{ path, contentType, contains string }{
		{"/status", "text/html", `<form id="login">`},
		{"/status/", "text/html", `<form id="login">`},
		{"/status/index.html", "text/html", `<form id="login">`},
		{"/status/app.js", "text/javascript", "/v1/whoami"},
		{"/status/style.css", "text/css", "@media"},
	} {
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.contentType) ||
			!strings.Contains(rec.Body.String(), c.contains) {
			t.Errorf("GET %s: %d %q, body without %q", c.path, rec.Code, rec.Header().Get("Content-Type"), c.contains)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/status/missing.js"}, {"POST", "/status"}, {"GET", "/statusx"},
	} {
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest(req.method, req.path, nil))
		want := http.StatusUnauthorized
		if req.path == "/status/missing.js" {
			want = http.StatusNotFound
		}
		if rec.Code != want {
			t.Errorf("%s %s without a token: %d, want %d", req.method, req.path, rec.Code, want)
		}
	}
}

// The embedded files load nothing from elsewhere: no absolute URL but the
// SVG namespace, which names and does not fetch.
func TestStatusPageSelfContained(t *testing.T) {
	abs := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(statusFiles, "statuspage", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := statusFiles.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range abs.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" {
				t.Errorf("%s refers to %s", path, m)
			}
		}
		if strings.Contains(string(b), "?token=") || strings.Contains(string(b), "&token=") {
			t.Errorf("%s puts a token in a URL", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWhoAmI(t *testing.T) {
	e := newAPIEnv(t)
	for _, c := range []struct{ token, name, role string }{{adminToken, "ops", "admin"}, {readOnlyToken, "viewer", "read-only"}} {
		code, body, raw := e.do(c.token, "GET", "/v1/whoami", "")
		if code != http.StatusOK || body["name"] != c.name || body["role"] != c.role {
			t.Errorf("whoami as %s: %d %s", c.name, code, raw)
		}
	}
	code, body, raw := e.do("", "GET", "/v1/whoami", "")
	e.wantError(http.StatusUnauthorized, "unauthorized", "no bearer token", code, body, raw)
}
