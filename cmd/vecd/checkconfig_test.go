package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vec/agent"
	"vec/internal/testconfig"
)

// Every configuration shipped in configs/ passes the check of the program
// it is for: vecd's (a file with ports:) or vec-agent's (a file with
// vips:). The files they name (/etc/vec/..., systemd credentials) are not
// on a build machine, so they are not opened here.
func TestCheckConfigShippedConfigs(t *testing.T) {
	paths, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no configs/*.yaml: %v", err)
	}
	vecdFile := regexp.MustCompile(`(?m)^ports:`)
	agentFile := regexp.MustCompile(`(?m)^vips:`)
	var nVecd, nAgent int
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case vecdFile.Match(data):
			nVecd++
			var stdout, stderr bytes.Buffer
			if code := checkConfig(path, "", false, &stdout, &stderr); code != checkValid {
				t.Errorf("vecd -check-config %s: exit %d\n%s", path, code, stderr.String())
			} else if !strings.Contains(stdout.String(), "valid") {
				t.Errorf("vecd -check-config %s: says %q", path, stdout.String())
			}
		case agentFile.Match(data):
			nAgent++
			problems, err := agent.CheckConfigFile(path, false)
			if err != nil || len(problems) > 0 {
				t.Errorf("vec-agent --check-config %s: %v %q", path, err, problems)
			}
		default:
			t.Errorf("%s is neither a vecd (ports:) nor a vec-agent (vips:) configuration", path)
		}
	}
	if nVecd == 0 || nAgent == 0 {
		t.Fatalf("found %d vecd and %d agent configurations in configs/, want both", nVecd, nAgent)
	}
}

// baseConfig is a valid configuration that the tests of the configuration
// checks break one field at a time.
var baseConfig = `
dpdk: {eal_args: ["--no-pci"], vdevs: ["net_null0"]}
ports: [{device: net_null0}]
gateway: {ip: 10.1.0.1}
workers: {cores: [1], control_core: 0, table_capacity: 1024}
clusters:
` + testconfig.HTTPCluster("10.1.0.100", []string{"weight_bound: 10"}, `{name: s1, ip: 10.1.0.11, mac: "02:00:00:00:00:11", weight: 3}`)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vecd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCheck(t *testing.T, path, node string, openFiles bool) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := checkConfig(path, node, openFiles, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// A wrong file gives status 1 and lists every problem with its field path;
// an unreadable one gives 2.
func TestCheckConfigListsEveryProblem(t *testing.T) {
	if code, out, errs := runCheck(t, writeConfig(t, baseConfig), "", true); code != checkValid || errs != "" {
		t.Fatalf("base configuration: exit %d\n%s%s", code, out, errs)
	}
	bad := strings.NewReplacer("port: 80", "port: 80000", "weight: 3", "weight: -1", "table_capacity: 1024", "table_capacity: 1024, turbo: 1").Replace(baseConfig)
	code, _, errs := runCheck(t, writeConfig(t, bad), "", true)
	if code != checkInvalid {
		t.Fatalf("exit %d, want %d\n%s", code, checkInvalid, errs)
	}
	// The unknown key is found while decoding, before the values are
	// checked: that pass reports it alone.
	if !strings.Contains(errs, "workers.turbo") {
		t.Errorf("unknown key not named:\n%s", errs)
	}
	bad = strings.NewReplacer("port: 80", "port: 80000", "weight: 3", "weight: -1").Replace(baseConfig)
	code, _, errs = runCheck(t, writeConfig(t, bad), "", true)
	for _, want := range []string{"clusters[0].services[0].port", "clusters[0].services[0].servers[0].weight"} {
		if code != checkInvalid || !strings.Contains(errs, want) {
			t.Errorf("exit %d, want %d naming %s:\n%s", code, checkInvalid, want, errs)
		}
	}
	if code, _, errs := runCheck(t, filepath.Join(t.TempDir(), "missing.yaml"), "", true); code != checkUnusable || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: exit %d, want %d\n%s", code, checkUnusable, errs)
	}
}

// The tokens and key files are read as vecd reads them (secretfile's
// checks included), unless -skip-files.
func TestCheckConfigOpensNamedFiles(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	agentKey := filepath.Join(dir, "s1.key")
	text := baseConfig + "control: {tokens_file: " + tokens + ", socket: " + filepath.Join(dir, "sock") + "}\n" +
		"recovery: {agents: [{name: s1, ip: 10.1.0.11, key_file: " + agentKey + "}]}\n"
	path := writeConfig(t, text)

	code, _, errs := runCheck(t, path, "", true)
	for _, want := range []string{"control.tokens_file", "recovery.agents[0].key_file"} {
		if code != checkInvalid || !strings.Contains(errs, want) {
			t.Errorf("files missing: exit %d, want %d naming %s:\n%s", code, checkInvalid, want, errs)
		}
	}
	if code, out, errs := runCheck(t, path, "", false); code != checkValid || !strings.Contains(out, "not opened") {
		t.Errorf("-skip-files: exit %d\n%s%s", code, out, errs)
	}
	if err := os.WriteFile(tokens, []byte("admin ops "+strings.Repeat("t", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(agentKey, []byte(strings.Repeat("ab", 32)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A key anyone may read is refused, as at start-up.
	if code, _, errs := runCheck(t, path, "", true); code != checkInvalid || !strings.Contains(errs, "recovery.agents[0].key_file") || strings.Contains(errs, "tokens_file") {
		t.Errorf("world-readable key: exit %d\n%s", code, errs)
	}
	if err := os.Chmod(agentKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCheck(t, path, "", true); code != checkValid {
		t.Errorf("files present: exit %d\n%s%s", code, out, errs)
	}
}

// A file shared by several gateways is checked as each of them: here the
// second gateway's own address (ha.gateways[1].ip, its gateway.ip) is a
// server's. -node checks one gateway only.
func TestCheckConfigEachHAGateway(t *testing.T) {
	text := baseConfig + `ha:
  key_file: /nonexistent/ha.key
  gateways:
    - {name: gw-a, address: "192.0.2.1:10006", priority: 200, ip: 10.1.0.2}
    - {name: gw-b, address: "192.0.2.2:10006", priority: 100, ip: 10.1.0.11}
`
	path := writeConfig(t, text)
	code, _, errs := runCheck(t, path, "", false)
	if code != checkInvalid || !strings.Contains(errs, "clusters[0].services[0].servers[0].ip") || !strings.Contains(errs, "gw-b") {
		t.Errorf("exit %d, want %d naming the server's ip as gateway gw-b:\n%s", code, checkInvalid, errs)
	}
	if code, out, errs := runCheck(t, path, "gw-a", false); code != checkValid {
		t.Errorf("-node gw-a: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runCheck(t, path, "gw-c", false); code != checkInvalid || !strings.Contains(errs, "gw-c") {
		t.Errorf("-node gw-c: exit %d\n%s", code, errs)
	}
	code, _, errs = runCheck(t, path, "gw-a", true)
	if code != checkInvalid || !strings.Contains(errs, "ha.key_file") {
		t.Errorf("missing ha key: exit %d\n%s", code, errs)
	}
}

// The built binary: -check-config exits 1 naming the field, without
// touching DPDK, and 0 for a valid file.
func TestCheckConfigExec(t *testing.T) {
	bin := buildVecd(t)
	bad := writeConfig(t, strings.Replace(baseConfig, "vip: 10.1.0.100", "vip: 10.1.0.300", 1))
	out, err := exec.Command(bin, "-check-config", bad).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != checkInvalid {
		t.Fatalf("invalid file: %v, want exit %d\n%s", err, checkInvalid, out)
	}
	if !strings.Contains(string(out), "clusters[0].vip") || strings.Contains(string(out), "EAL") {
		t.Errorf("output does not name clusters[0].vip, or reached DPDK:\n%s", out)
	}
	out, err = exec.Command(bin, "--check-config", writeConfig(t, baseConfig)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") {
		t.Errorf("valid file: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "-check-config", bad, "extra").CombinedOutput()
	if !errors.As(err, &exit) || exit.ExitCode() != checkUnusable {
		t.Errorf("extra argument: %v, want exit %d\n%s", err, checkUnusable, out)
	}
}

// A configuration valid but likely not meant (config.Warnings) is accepted
// with the warnings on standard error.
func TestCheckConfigPrintsWarnings(t *testing.T) {
	doc := strings.Replace(baseConfig, "        weight_bound: 10\n", "        weight_bound: 10\n        scheduler: maglev\n", 1) +
		"manager: {enabled: true}\nbgp:\n  local_as: 65001\n  peers: [{address: 10.1.0.254, as: 65000}]\n"
	code, out, errs := runCheck(t, writeConfig(t, doc), "", false)
	if code != checkValid || !strings.Contains(out, "configuration is valid") {
		t.Fatalf("exit %d, want %d\n%s%s", code, checkValid, out, errs)
	}
	if !strings.Contains(errs, "warning: clusters[0].services[0].servers[0].fixed: server s1 of maglev service 10.1.0.100 http") {
		t.Errorf("standard error %q, want the maglev weights warning", errs)
	}
}
