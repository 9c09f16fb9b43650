package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vec/internal/pcapfile"
	"vec/internal/testenv"
)

// imageCacheDir keeps what TestImageRecipe may reuse between runs: the
// bootstrapped Debian 12 root and the .debs apt downloaded into the roots.
// Without it the test bootstraps from the mirror (slower, same result).
func imageCacheDir() string {
	if d := os.Getenv("VEC_IMAGE_CACHE"); d != "" {
		return d
	}
	return "/var/cache/vec-image-test"
}

// baseMaxAge is how old a cached bootstrap may be before it is made anew
// (the roots get Debian's updates from apt-get anyway).
const baseMaxAge = 7 * 24 * time.Hour

// debianSources are the Debian 12 suites the golang:1.26-bookworm and
// debian:bookworm-slim images use.
var debianSources = []string{
	"deb http://deb.debian.org/debian bookworm main",
	"deb http://deb.debian.org/debian bookworm-updates main",
	"deb http://deb.debian.org/debian-security bookworm-security main",
}

// inRoot is run by unshare in a mount namespace of its own, so every mount
// it makes disappears with it, whatever happens (no bind mount of the
// host's Go survives to be deleted with the root). $1 the root, $2 the apt
// archive cache, $3 build or runtime, $4 the command run in the chroot.
// build also bind-mounts the host's Go at /usr/local/go (where the golang
// image has it) and its module cache read-only, and its build cache.
const inRoot = `set -euo pipefail
root=$1 archives=$2 mode=$3 cmd=$4
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sysfs "$root/sys"
mkdir -p "$archives/partial"
mount --bind "$archives" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf"
env=(HOME=/root PATH=/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
if [ "$mode" = build ]; then
	robind() { mkdir -p "$2"; mount --bind "$1" "$2"; mount -o remount,bind,ro "$2"; }
	robind "$HOST_GOROOT" "$root/usr/local/go"
	robind "$HOST_GOMODCACHE" "$root/root/go/pkg/mod"
	mkdir -p "$HOST_GOCACHE" "$root/root/.cache/go-build"
	mount --bind "$HOST_GOCACHE" "$root/root/.cache/go-build"
	env+=(GOPROXY=off GOFLAGS=-mod=readonly GOTOOLCHAIN=local)
fi
exec chroot "$root" /usr/bin/env -i "${env[@]}" /bin/bash -euo pipefail -c "$cmd"
`

// runInRoot runs cmd (bash) in root under chroot, in a private mount
// namespace (see inRoot).
func runInRoot(t *testing.T, timeout time.Duration, root, mode, cmd string, env []string) string {
	t.Helper()
	archives := filepath.Join(imageCacheDir(), "apt-archives")
	return run(t, timeout, env, "unshare", "--mount", "--propagation", "private", "--",
		"bash", "-c", inRoot, "in-root", root, archives, mode, cmd)
}

// lockImageCache serialises the test's runs on the machine (they share
// the cache).
func lockImageCache(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(imageCacheDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(imageCacheDir(), "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}

// debianBase returns a tarball of a fresh Debian 12 minbase root: the
// cached one when it is young enough, else bootstrapped now by mmdebstrap.
func debianBase(t *testing.T) string {
	t.Helper()
	base := filepath.Join(imageCacheDir(), "bookworm-minbase.tar")
	if fi, err := os.Stat(base); err == nil && time.Since(fi.ModTime()) < baseMaxAge {
		t.Logf("using the bootstrap of %s (%s)", fi.ModTime().Format(time.DateTime), base)
		return base
	}
	// mmdebstrap picks the output format from the name: keep .tar last.
	tmp := filepath.Join(imageCacheDir(), "bookworm-minbase.new.tar")
	os.Remove(tmp)
	timed(t, "mmdebstrap bookworm (minbase)", func() {
		args := append([]string{"--variant=minbase", "--mode=root", "--quiet", "bookworm", tmp}, debianSources...)
		run(t, 15*time.Minute, nil, "mmdebstrap", args...)
	})
	if err := os.Rename(tmp, base); err != nil {
		t.Fatal(err)
	}
	return base
}

// freshRoot unpacks the base into a new directory, removed after the test.
// Like Docker's debian images it tells dpkg not to sync every file it
// unpacks (an image layer is written whole or not at all; so is this
// throw-away root).
func freshRoot(t *testing.T, base string) string {
	t.Helper()
	root := t.TempDir()
	run(t, 5*time.Minute, nil, "tar", "-xf", base, "-C", root)
	speedup := filepath.Join(root, "etc/dpkg/dpkg.cfg.d/docker-apt-speedup")
	if err := os.WriteFile(speedup, []byte("force-unsafe-io\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// goEnv reads one of the host Go's settings.
func goEnv(t *testing.T, goTool, name string) string {
	t.Helper()
	return strings.TrimSpace(run(t, time.Minute, nil, goTool, "env", name))
}

// TestImageRecipe builds the container image's two stages the way the
// Dockerfile does, without Docker: in a fresh Debian 12 root it runs
// scripts/build-image-root.sh build-deps and build with Go 1.26 at
// /usr/local/go (the golang image's place; here the host's, bind-mounted);
// in a second fresh root it runs runtime-deps, copies the build output over
// it as COPY --from=build does, and runs the image's binaries there:
// vecd --check-config on the examples, vec-agent --check-config, and vecd
// forwarding a capture through a net_pcap port, which needs EAL, the
// mempool plugin and the driver all present in the runtime root.
func TestImageRecipe(t *testing.T) {
	requireRootAndTools(t, "mmdebstrap", "unshare", "chroot", "tar")
	testenv.RequireDPDK(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	hostEnv := []string{
		"HOST_GOROOT=" + goEnv(t, goTool, "GOROOT"),
		"HOST_GOMODCACHE=" + goEnv(t, goTool, "GOMODCACHE"),
		"HOST_GOCACHE=" + goEnv(t, goTool, "GOCACHE"),
	}
	// The build's modules come from the host's module cache (GOPROXY=off
	// in the root): make sure it has them.
	run(t, 10*time.Minute, nil, goTool, "mod", "download", "-x")

	lockImageCache(t)
	start := time.Now()
	base := debianBase(t)

	// Stage 1: golang:1.26-bookworm. COPY . . honours .dockerignore.
	buildRoot := freshRoot(t, base)
	src := filepath.Join(buildRoot, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	excludes := []string{"--exclude=./.git", "--exclude=./bin", "--exclude=./dist"}
	run(t, time.Minute, nil, "bash", "-c",
		fmt.Sprintf("tar -C %q %s -cf - . | tar -C %q -xf -", repoRoot(t), strings.Join(excludes, " "), src))
	timed(t, "build stage: build-deps", func() {
		runInRoot(t, 15*time.Minute, buildRoot, "build", "cd /src && scripts/build-image-root.sh build-deps", hostEnv)
	})
	timed(t, "build stage: build /out", func() {
		runInRoot(t, 15*time.Minute, buildRoot, "build", "cd /src && scripts/build-image-root.sh build /out", hostEnv)
	})
	for _, f := range []string{"usr/sbin/vecd", "usr/sbin/vec-agent", "usr/bin/vecctl"} {
		if fi, err := os.Stat(filepath.Join(buildRoot, "out", f)); err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("build stage: /out/%s: %v", f, err)
		}
	}

	// Stage 2: debian:bookworm-slim.
	runRoot := freshRoot(t, base)
	run(t, time.Minute, nil, "cp", "-a", filepath.Join(buildRoot, "src/scripts/build-image-root.sh"),
		filepath.Join(runRoot, "usr/local/sbin/build-image-root.sh"))
	timed(t, "runtime stage: runtime-deps", func() {
		runInRoot(t, 15*time.Minute, runRoot, "runtime", "build-image-root.sh runtime-deps", nil)
	})
	run(t, time.Minute, nil, "cp", "-a", filepath.Join(buildRoot, "out")+"/.", runRoot)
	examples := filepath.Join(runRoot, "usr/share/doc/vec/examples")
	run(t, time.Minute, nil, "mkdir", "-p", examples)
	run(t, time.Minute, nil, "cp", "-a", filepath.Join(repoRoot(t), "configs")+"/.", examples)

	// The image's binaries, in the runtime root.
	work := filepath.Join(runRoot, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	input := replayInput(t)
	run(t, time.Minute, nil, "cp", input, filepath.Join(work, "input.pcap"))
	cfg := replayConfig(t, "/work/input.pcap", "/work/out.pcap")
	if err := os.WriteFile(filepath.Join(work, "replay.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var out string
	timed(t, "runtime stage: checks and a capture through vecd", func() {
		out = runInRoot(t, 5*time.Minute, runRoot, "runtime", `
if ldd /usr/sbin/vecd | grep 'not found'; then echo "vecd lacks libraries"; exit 1; fi
for f in /usr/share/doc/vec/examples/vecd-*.yaml /usr/share/doc/vec/examples/*demo*.yaml; do
	/usr/sbin/vecd --check-config "$f" -skip-files
done
/usr/sbin/vec-agent --check-config /usr/share/doc/vec/examples/vec-agent.yaml --skip-files
/usr/bin/vecctl --help >/dev/null
/usr/sbin/vecd -config /work/replay.yaml
echo "vecd exited $?"
`, nil)
	})
	t.Logf("runtime root:\n%s", out)
	for _, want := range []string{"vecd-example.yaml: configuration is valid", "vecd-bare-metal.yaml: configuration is valid",
		"vec-agent.yaml: configuration is valid", "vecd exited 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("runtime root output lacks %q", want)
		}
	}
	in, err := pcapfile.Read(input)
	if err != nil {
		t.Fatal(err)
	}
	forwarded, err := pcapfile.Read(filepath.Join(work, "out.pcap"))
	if err != nil {
		t.Fatalf("vecd in the runtime root wrote no capture: %v", err)
	}
	if len(forwarded) == 0 || len(forwarded) > len(in) {
		t.Errorf("vecd in the runtime root sent %d frames for the capture's %d", len(forwarded), len(in))
	}
	t.Logf("vecd in the runtime root forwarded %d of the capture's %d frames; whole recipe %v",
		len(forwarded), len(in), time.Since(start).Round(time.Second))
}
