package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"

	"vec/agent/auth"
	"vec/control/api"
	"vec/control/config"
	"vec/recovery"
)

// Exit codes of vecd -check-config (docs/configuration.md).
const (
	checkValid    = 0 // the configuration would be accepted
	checkInvalid  = 1 // it would not: every problem is listed, naming its field
	checkUnusable = 2 // bad usage, or the file cannot be read at all
)

// checkConfig is vecd -check-config: it validates the file as vecd does
// before it initialises DPDK — decoding, every value and cross-reference,
// the -node choice, and (with openFiles) the tokens, TLS and key files the
// file names, read as vecd reads them — without starting anything, so it
// needs neither root nor hugepages (only the right to read those files).
//
// What needs the devices is left to start-up: that each port's device
// exists and starts with its MTU and queues, its MAC (the default of
// gateway.mac), RSS for several workers, the cores, hugepage memory for
// the buffers and tables, and binding the listeners.
//
// A file shared by several gateways (ha.gateways, without ha.node or
// -node) is checked as each of them in turn, since each may take its own
// gateway.ip from ha.gateways.
func checkConfig(path, node string, openFiles bool, stdout, stderr io.Writer) int {
	cfg, err := config.Load(path)
	var cerr *config.Error
	switch {
	case errors.As(err, &cerr):
		return reportProblems(stderr, path, cerr.Problems)
	case err != nil:
		fmt.Fprintf(stderr, "vecd: %v\n", err)
		return checkUnusable
	}
	nodes := []string{node}
	if node == "" && cfg.HA.Node == "" && len(cfg.HA.Gateways) > 0 {
		nodes = nodes[:0]
		for _, g := range cfg.HA.Gateways {
			nodes = append(nodes, g.Name)
		}
	}
	var problems []config.Problem
	seen := map[config.Problem]bool{}
	var rt config.Runtime
	for _, n := range nodes {
		for _, p := range checkAsNode(cfg, n, len(nodes) > 1, &rt) {
			if !seen[p] {
				seen[p] = true
				problems = append(problems, p)
			}
		}
	}
	if len(problems) == 0 && openFiles {
		problems = checkNamedFiles(rt)
	}
	if len(problems) > 0 {
		return reportProblems(stderr, path, problems)
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "vecd: %s: warning: %s\n", path, w)
	}
	what := "configuration is valid"
	if len(nodes) > 1 {
		what = fmt.Sprintf("configuration is valid for each of the %d gateways of ha.gateways", len(nodes))
	}
	if !openFiles {
		what += " (the files it names were not opened)"
	}
	fmt.Fprintf(stdout, "vecd: %s: %s\n", path, what)
	return checkValid
}

// checkAsNode validates cfg as gateway node (empty: the file's own
// ha.node), as vecd -node does, filling rt when it is valid. Problems that
// only this node has name it when several are checked.
func checkAsNode(cfg *config.Config, node string, several bool, rt *config.Runtime) []config.Problem {
	if node != "" {
		if err := cfg.ForNode(node); err != nil {
			return []config.Problem{{Field: "ha.node", Message: err.Error()}}
		}
	}
	r, err := cfg.Runtime()
	var cerr *config.Error
	switch {
	case errors.As(err, &cerr):
		if several {
			out := make([]config.Problem, len(cerr.Problems))
			for i, p := range cerr.Problems {
				out[i] = config.Problem{Field: p.Field, Message: p.Message + " (as gateway " + node + ")"}
			}
			return out
		}
		return cerr.Problems
	case err != nil:
		return []config.Problem{{Message: err.Error()}}
	case r.HA != nil && r.HA.Node == "":
		return []config.Problem{{Field: "ha.node", Message: "which of ha.gateways is this gateway? set ha.node or run vecd -node NAME"}}
	}
	*rt = r
	return nil
}

// checkNamedFiles reads the tokens, TLS and key files of a valid
// configuration with the functions vecd start-up uses (ownership and mode
// checks included).
func checkNamedFiles(rt config.Runtime) []config.Problem {
	var ps []config.Problem
	add := func(field string, err error) {
		if err != nil {
			ps = append(ps, config.Problem{Field: field, Message: err.Error()})
		}
	}
	if rt.Control.Enabled {
		add("control.tokens_file", (&api.Tokens{}).Load(rt.Control.TokensFile))
	}
	if rt.Control.Listen != "" {
		_, err := tls.LoadX509KeyPair(rt.Control.TLSCert, rt.Control.TLSKey)
		add("control.tls_cert", err)
	}
	for i, a := range rt.Recovery.Agents {
		_, err := auth.LoadKeyFile(a.KeyFile)
		add(fmt.Sprintf("recovery.agents[%d].key_file", i), err)
	}
	if rt.HA != nil {
		_, err := recovery.LoadHeartbeatKeyFile(rt.HA.KeyFile)
		add("ha.key_file", err)
	}
	return ps
}

func reportProblems(stderr io.Writer, path string, problems []config.Problem) int {
	fmt.Fprintf(stderr, "vecd: %s: invalid configuration (%d problem(s)):\n", path, len(problems))
	for _, p := range problems {
		fmt.Fprintf(stderr, "\t%s\n", p)
	}
	return checkInvalid
}
