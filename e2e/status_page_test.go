package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"vec/control/apiwire"
	"vec/internal/testcert"
)

// statusListen is where vecd serves its control API (and the status page)
// on TCP with TLS, inside the gateway namespace, where the browser runs.
const statusListen = "127.0.0.1:8443"

// pageRow is a server's row as the status page shows it.
type pageRow struct {
	Key       string `json:"key"`
	State     string `json:"state"`
	StateText string `json:"stateText"`
	Weight    int    `json:"weight"`
	Effective int    `json:"effective"`
	New       uint64 `json:"new"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	NewRate   string `json:"newrate"`
	Actions   int    `json:"actions"`
}

// readRows reads every server row of the page from the DOM.
const readRows = `[...document.querySelectorAll("tr[data-key]")].map(tr => {
	const v = (f) => tr.querySelector('td[data-field="' + f + '"]').dataset.value;
	return {key: tr.dataset.key, state: tr.dataset.state, stateText: tr.querySelector('td[data-field="state"]').textContent,
		weight: Number(v("weight")), effective: Number(v("effective")), new: Number(v("new")), packets: Number(v("packets")),
		bytes: Number(v("bytes")), newrate: v("newrate"), actions: tr.querySelectorAll("button, input").length};
})`

// TestStatusPage opens vecd's status page in headless Chromium while
// traffic runs: with a read-only token it shows every server with the
// API's weights and counters, moving, and no action controls (the API
// refuses a forced action); with an admin token a click (confirmed) on
// Quiesce stops the server's new connections. The browser asks nothing of
// any host but vecd's listener. With VEC_UPDATE_SCREENSHOT=1 it writes
// docs/status-page.png.
func TestStatusPage(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		SkipOrFail(t, "needs Debian's chromium for the status page (scripts/setup.sh installs it): %v", err)
	}
	const vip = "10.99.0.100"
	c := StartCluster(t, Options{Servers: 3, Backends: true})
	dir := t.TempDir()
	cfg := ctlYAML(c, dir, []int{1}, httpCluster(c, vip, 1, 2, 1))
	// The browser ignores the certificate's issuer.
	cert, key, _ := testcert.Write(t, dir, "127.0.0.1")
	// The manager runs every second and, at a sensitivity of 100 %, never
	// sends what it computes: the page has its decisions to show while the
	// weights the test compares stay the configured ones.
	tcp := fmt.Sprintf("  listen: %s\n  tls_cert: %s\n  tls_key: %s\nmanager:\n  enabled: true\n  interval: 1s\n  sensitivity: 100\nmetrics:\n",
		statusListen, cert, key)
	if !strings.Contains(cfg, "\nmetrics:\n") {
		t.Fatal("ctlYAML has no metrics section to put the control listener before")
	}
	cfg = strings.Replace(cfg, "\nmetrics:\n", "\n"+tcp, 1)
	v := startCtlVecd(t, c, dir, cfg, vip)
	if err := WaitTCP(c.GatewayNS(), statusListen, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	loop := startHTTPLoop(c, vip, 300, 4)
	defer loop.finish(t, "HTTP while the page is open")

	b := startBrowser(t, chromium, c.GatewayNS())
	origin := "https://" + statusListen
	if err := chromedp.Do(b.ctx, chromedp.Navigate(origin+"/status")); err != nil {
		t.Fatalf("opening the status page: %v", err)
	}

	// Read-only: rows, weights and counters as the API has them, moving.
	b.login(ctlViewerToken, "read-only")
	rows := b.rows(3)
	apiServers := func() map[string]apiwire.ServerCounters {
		var list []apiwire.ServerCounters
		v.json(&list, "server", "list", vip+":http")
		out := map[string]apiwire.ServerCounters{}
		for _, s := range list {
			out[s.VIP+"/"+s.Service+"/"+s.Server] = s
		}
		return out
	}
	// The page polls once more after the first read: its counters lie
	// between the two.
	before := apiServers()
	b.waitPolls(2)
	rows = b.rows(3)
	after := apiServers()
	for _, r := range rows {
		lo, hi := before[r.Key], after[r.Key]
		if hi.Server == "" {
			t.Errorf("the page shows %s, which the API does not list", r.Key)
			continue
		}
		if r.Weight != hi.Weight || r.Effective != hi.EffectiveWeight || r.State != "serving" || r.StateText != "serving" {
			t.Errorf("row %+v, API %+v", r, hi)
		}
		for _, f := range []struct {
			name         string
			dom, lo, max uint64
		}{{"new", r.New, lo.New, hi.New}, {"packets", r.Packets, lo.Packets, hi.Packets}, {"bytes", r.Bytes, lo.Bytes, hi.Bytes}} {
			if f.dom < f.lo || f.dom > f.max || f.dom == 0 {
				t.Errorf("%s: the page shows %s %d, the API %d before and %d after", r.Key, f.name, f.dom, f.lo, f.max)
			}
		}
		if r.Actions != 0 {
			t.Errorf("read-only: row %s has %d action controls", r.Key, r.Actions)
		}
	}
	if len(rows) != len(after) {
		t.Errorf("the page shows %d servers, the API lists %d", len(rows), len(after))
	}
	b.waitFor(`(() => { const li = document.querySelector('#manager li[data-service="`+vip+`:http"]');
		return li !== null && li.textContent.includes("not sent") && ["s1 ", "s2 ", "s3 "].every(s => li.textContent.includes(s)); })()`,
		10*time.Second, "the manager's last decision for the service, with every server, not sent")
	b.waitFor(`[...document.querySelectorAll("tr[data-key]")].every(tr => Number(tr.querySelector('td[data-field="newrate"]').textContent) > 0)`,
		10*time.Second, "every server showing new connections per second above 0 under traffic")
	b.waitPolls(2)
	moved := b.rows(3)
	for i := range rows {
		if moved[i].New <= rows[i].New || moved[i].Packets <= rows[i].Packets {
			t.Errorf("%s did not move under traffic: new %d → %d, packets %d → %d", rows[i].Key, rows[i].New, moved[i].New,
				rows[i].Packets, moved[i].Packets)
		}
	}
	t.Logf("read-only view: %+v", moved)
	if n := b.eval(`document.querySelectorAll("button.quiesce, button.set-weight, td.actions").length`); n != "0" {
		t.Errorf("read-only: %s action controls on the page", n)
	}
	// Forced from the page with its own token, the API refuses.
	forced := b.eval(`fetch("/v1/clusters/` + vip + `/services/http/servers/s1/quiesce", {method: "POST",
		headers: {Authorization: "Bearer " + sessionStorage.getItem("vecd-status-token")}}).then(r => r.status)`)
	if forced != "403" {
		t.Errorf("read-only quiesce forced from the page: HTTP %s, want 403", forced)
	}
	if s := apiServers()[vip+"/http/s1"]; s.Quiesced {
		t.Fatal("s1 is quiesced after a read-only request")
	}

	// Admin: controls on every row; Quiesce, confirmed, stops s1's new
	// connections.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#logout"))); err != nil {
		t.Fatal(err)
	}
	b.login(ctlAdminToken, "admin")
	for _, r := range b.rows(3) {
		if r.Actions != 3 {
			t.Errorf("admin: row %s has %d action controls, want Quiesce, a weight box and Set weight", r.Key, r.Actions)
		}
	}
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`tr[data-key="`+vip+`/http/s1"] button.quiesce`))); err != nil {
		t.Fatal(err)
	}
	b.waitFor(`document.querySelector('tr[data-key="`+vip+`/http/s1"]').dataset.state === "quiesced"`, 10*time.Second,
		"s1's row saying quiesced")
	if got := b.dialogs(); len(got) != 1 || !strings.Contains(got[0], "Quiesce "+vip+" http s1") {
		t.Errorf("confirmations asked: %q, want one to quiesce s1", got)
	}
	q := apiServers()[vip+"/http/s1"]
	if !q.Quiesced || q.EffectiveWeight != 0 || q.Weight != 1 {
		t.Fatalf("after Quiesce on the page the API says %+v", q)
	}
	text := b.eval(`document.querySelector('tr[data-key="` + vip + `/http/s1"] td[data-field="state"]').textContent`)
	if !strings.Contains(text, "quiesced") {
		t.Errorf("s1's state reads %q, want it to say quiesced", text)
	}
	// Its new connections stop while the others' go on.
	start := apiServers()
	time.Sleep(3 * time.Second)
	end := apiServers()
	if n := end[vip+"/http/s1"].New - start[vip+"/http/s1"].New; n != 0 {
		t.Errorf("s1 got %d new connections in 3 s after it was quiesced", n)
	}
	for _, s := range []string{"s2", "s3"} {
		k := vip + "/http/" + s
		if end[k].New <= start[k].New {
			t.Errorf("%s got no new connection in 3 s while s1 was quiesced", s)
		}
	}
	b.waitFor(`document.querySelector('tr[data-key="`+vip+`/http/s1"] td[data-field="newrate"]').textContent === "0.0"`,
		5*time.Second, "s1's new connections per second at 0")

	// The click scrolled the table to its button; the picture shows it
	// from the left.
	b.eval(`document.querySelectorAll(".scroll").forEach(e => { e.scrollLeft = 0; }); true`)
	update := os.Getenv("VEC_UPDATE_SCREENSHOT") == "1"
	if update {
		// Half a minute of sparkline in the picture.
		b.waitPolls(30)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if update {
		root, err := RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(root, "docs", "status-page.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(png))
	}

	// At phone width each server is a block of labelled lines and
	// nothing needs a sideways scroll.
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	b.waitFor(`getComputedStyle(document.querySelector("table.servers thead")).display === "none" &&
		document.documentElement.scrollWidth <= window.innerWidth`, 5*time.Second, "the page laid out for a phone")

	// Every request of the browser went to vecd's listener.
	reqs := b.requests()
	if len(reqs) == 0 {
		t.Fatal("the browser's network log is empty")
	}
	for _, u := range reqs {
		p, err := url.Parse(u)
		if err != nil || p.Scheme != "https" || p.Host != statusListen || strings.Contains(u, "token") {
			t.Errorf("the browser requested %s: only %s is allowed (and no token in a URL)", u, origin)
		}
	}
	t.Logf("%d browser requests, all to %s", len(reqs), origin)
}

// browser is headless Chromium in a network namespace, driven over the
// DevTools protocol (through a pipe), with its network log and dialogs.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu   sync.Mutex
	reqs []string
	dlgs []string
}

// startBrowser starts chromium in namespace ns; the test's cleanup ends
// it. Every confirm() is accepted and recorded.
func startBrowser(t *testing.T, chromium, ns string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.IgnoreCertErrors, chromedp.WindowSize(1440, 900),
		chromedp.UserDataDir(t.TempDir()),
		// No update, safe-browsing or other background request that
		// could hide in (or pollute) the network log.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// ip netns exec execs chromium: the DevTools pipes (fds 3
			// and 4) stay with it.
			cmd.Args = append([]string{"ip", "netns", "exec", ns}, cmd.Args...)
			cmd.Path, _ = exec.LookPath("ip")
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	timeout, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: timeout}
	err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.reqs = append(b.reqs, r.Request.URL)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dlgs = append(b.dlgs, ev.Message)
			b.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

func (b *browser) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.reqs)
}

func (b *browser) dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.dlgs)
}

// login types token into the login form and waits until the page says
// who is logged in, with role.
func (b *browser) login(token, role string) {
	b.t.Helper()
	err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)))
	if err != nil {
		b.t.Fatalf("logging in: %v", err)
	}
	b.waitFor(`document.body.dataset.role === "`+role+`"`, 10*time.Second, "the page logged in as "+role)
	if u := b.eval(`location.href`); strings.Contains(u, token) {
		b.t.Errorf("the token is in the page's URL %s", u)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) in the page
// and returns its result as JSON text.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// waitFor waits until a JavaScript condition holds in the page.
func (b *browser) waitFor(cond string, timeout time.Duration, what string) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for b.eval("Boolean("+cond+")") != "true" {
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %v for %s; the page says %q", timeout, what, b.eval(`document.body.innerText`))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitPolls waits until the page has read the API n more times.
func (b *browser) waitPolls(n int) {
	b.t.Helper()
	polls := b.eval(`document.body.dataset.polls`)
	// The page polls every second.
	b.waitFor(fmt.Sprintf("document.body.dataset.polls - %s >= %d", polls, n), time.Duration(n+10)*time.Second,
		fmt.Sprintf("%d more polls of the page", n))
}

// rows waits until the page shows n server rows with counters and returns
// them, in the page's order.
func (b *browser) rows(n int) []pageRow {
	b.t.Helper()
	b.waitFor(`document.querySelectorAll("tr[data-key]").length === `+strconv.Itoa(n), 10*time.Second,
		fmt.Sprintf("%d server rows", n))
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]pageRow](readRows))
	if err != nil {
		b.t.Fatalf("reading the rows: %v", err)
	}
	return rows
}
