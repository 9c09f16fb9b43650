package main

import (
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

// call runs one request and prints its reply: the raw JSON with --output
// json, else what table writes.
func call(cmd *cobra.Command, o *globalOptions, method, path string, query url.Values, body, out any, table func(io.Writer)) error {
	c, err := newClient(o)
	if err != nil {
		return err
	}
	ctx, cancel := contextFor(o)
	defer cancel()
	raw, err := c.do(ctx, method, path, query, body, out)
	if o.output == "json" && raw != nil {
		os.Stdout.Write(raw)
	}
	if err != nil {
		return err
	}
	if o.output == "table" && table != nil {
		w := newTable(cmd.OutOrStdout())
		table(w)
		w.Flush()
	}
	return nil
}

// newTable is the writer of vecctl's tables: tab-separated cells, aligned.
func newTable(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
}

// printChange is the table form of a change's reply.
func printChange(ch *apiwire.Change) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "applied: generation %d, live on every worker after %.2f ms\n", ch.Generation, ch.AckLatencyMs)
		for _, s := range ch.Summary {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}

// fromFlag points a patch's field at the flag's value when the flag was
// given; else the field stays nil (absent: unchanged).
func fromFlag[T any](cmd *cobra.Command, flag string, value *T, field **T) {
	if cmd.Flags().Changed(flag) {
		*field = value
	}
}

func change(cmd *cobra.Command, o *globalOptions, method, path string, body any) error {
	var ch apiwire.Change
	return call(cmd, o, method, path, nil, body, &ch, printChange(&ch))
}

// nounCmd is the command of a noun (vecctl NOUN VERB): it only groups the
// verbs, its subcommands.
func nounCmd(use, short string, verbs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short}
	c.AddCommand(verbs...)
	return c
}

// replyCmd is a command without arguments that sends one bodiless request
// and prints its reply, a T, as table makes of it.
func replyCmd[T any](o *globalOptions, use, short, method, path string, table func(*T) func(io.Writer)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r T
			return call(cmd, o, method, path, nil, nil, &r, table(&r))
		},
	}
}

// changeCmd is a command without arguments that sends one bodiless change.
func changeCmd(o *globalOptions, use, short, method, path string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return change(cmd, o, method, path, nil)
		},
	}
}

// namedChangeCmd is a command that sends one bodiless change to the path
// pathOf makes of its one argument, a name.
func namedChangeCmd(o *globalOptions, use, short, method string, pathOf func(name string) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := pathOf(args[0])
			if err != nil {
				return err
			}
			return change(cmd, o, method, path, nil)
		},
	}
}

// namePath is the API path of the service (VIP:SERVICE, n 2) or the
// server (VIP:SERVICE:SERVER, n 3) name names.
func namePath(name string, n int) (string, error) {
	p, err := splitName(name, n)
	if err != nil {
		return "", err
	}
	path := "/v1/clusters/" + esc(p[0])
	for i, collection := range []string{"services", "servers"}[:n-1] {
		path += "/" + collection + "/" + esc(p[i+1])
	}
	return path, nil
}

// under is the pathOf of namedChangeCmd for a name that is the last,
// escaped, element of the path.
func under(prefix string) func(string) (string, error) {
	return func(name string) (string, error) { return prefix + esc(name), nil }
}

func esc(s string) string { return url.PathEscape(s) }

// splitName splits VIP:SERVICE[:SERVER] into n parts. Names have no
// colons, so the last n-1 colons separate the parts and an IPv6 VIP keeps
// its own (2001:db8::100:http); the VIP may also be bracketed
// ([2001:db8::100]:http).
func splitName(s string, n int) ([]string, error) {
	parts := make([]string, n)
	rest := s
	for i := n - 1; i > 0; i-- {
		j := strings.LastIndexByte(rest, ':')
		if j < 0 {
			rest = ""
			break
		}
		rest, parts[i] = rest[:j], rest[j+1:]
	}
	vip, ok := parseVIP(rest)
	if !ok || slices.Contains(parts[1:], "") {
		want := "VIP:SERVICE"
		if n == 3 {
			want = "VIP:SERVICE:SERVER"
		}
		return nil, usageError("%q: want %s (e.g. 10.0.0.100:http%s)", s, want, map[bool]string{true: ":s1"}[n == 3])
	}
	parts[0] = vip
	return parts, nil
}

// parseVIP reads an IPv4 or IPv6 address, the latter perhaps bracketed,
// and returns it as written without brackets.
func parseVIP(s string) (string, bool) {
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if s, ok = strings.CutSuffix(inner, "]"); !ok {
			return "", false
		}
	}
	a, err := netip.ParseAddr(s)
	return s, err == nil && a.Zone() == ""
}
