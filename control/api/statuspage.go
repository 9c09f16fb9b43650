package api

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// statusFiles are the status page's HTML, CSS and JavaScript. They hold
// no data: the page's script reads the JSON API with the token typed into
// its login form, so they are served without one.
//
//go:embed statuspage
var statusFiles embed.FS

// statusPrefix is where the page is served: /status, and its files under
// /status/.
const statusPrefix = "/status"

// statusCSP keeps the page to its own origin: no script, style, font or
// request goes anywhere but vecd.
const statusCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// statusPage serves the embedded files: /status is index.html.
func statusPage() http.Handler {
	sub, err := fs.Sub(statusFiles, "statuspage")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	files := http.FileServerFS(sub)
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", statusCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(r.URL.Path, statusPrefix)
		if r2.URL.Path == "" || r2.URL.Path == "/" || r2.URL.Path == "/index.html" {
			// The file server would redirect /status/index.html and
			// not serve /status itself; the page is the same for all.
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.Write(index)
			return
		}
		files.ServeHTTP(w, r2)
	})
}

// isStatusPage reports whether r asks for the status page's files.
func isStatusPage(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		(r.URL.Path == statusPrefix || strings.HasPrefix(r.URL.Path, statusPrefix+"/"))
}

// WhoAmI is the reply of GET /v1/whoami: the caller's token name and role,
// so that a client (the status page) shows only what the role may do.
type WhoAmI struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

func (h *handler) whoami(_ *http.Request, id Identity) (any, error) {
	return WhoAmI{Name: id.Name, Role: id.Role}, nil
}
