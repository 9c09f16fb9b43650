# demo-lib.sh — what demo.sh and scaleout-demo.sh share. Sourced, not run:
# the demo sets DEMO (its name in messages) and LOG_DIR first.

readonly CLUSTER_LOCK=/run/vec-cluster.lock
# How far a server's share may stray from its weight's share, relative to
# it, as in the e2e tests.
readonly TOLERANCE=0.05

say() { printf '%s: %s\n' "$DEMO" "$*"; }
fail() {
	printf '%s: FAILED: %s\n' "$DEMO" "$*" >&2
	exit 1
}
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

# parse_demo_args "$@": --keep sets keep=true, -n N sets requests (the
# demo sets their defaults).
parse_demo_args() {
	while (($# > 0)); do
		case $1 in
		--keep) keep=true; shift ;;
		-n) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; requests=$2; shift 2 ;;
		*) usage ;;
		esac
	done
}

# lock_cluster: the cluster has fixed names, so it has one user at a time;
# the e2e tests of vecd take the same lock. The processes the demo starts
# inherit it, so with --keep it is held until `netns.sh down` ends them.
lock_cluster() {
	exec 8>"$CLUSTER_LOCK"
	if ! flock -n 8; then
		say "waiting for $CLUSTER_LOCK: a test or another demo is using the namespace cluster"
		flock -w 300 8 || fail "the namespace cluster stayed busy for 5 minutes ($CLUSTER_LOCK)"
	fi
}

# prepare_demo: as root, with the cluster's lock, everything installed
# (scripts/setup.sh) and Go on the PATH.
prepare_demo() {
	[[ $(id -u) -eq 0 ]] || fail "run as root (network namespaces, hugepages)"
	lock_cluster
	./scripts/setup.sh
	export PATH=/usr/local/go/bin:$PATH
}

# tear_down_on_exit: on every exit, unless --keep, `netns.sh down` ends
# every process in the namespaces (vecd, BIRD, the backends) and deletes
# them.
tear_down_on_exit() {
	trap demo_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
demo_cleanup() {
	local rc=$?
	if $keep; then
		((rc == 0)) || say "--keep: leaving everything up for inspection (logs in $LOG_DIR)"
	else
		./scripts/netns.sh down || true
	fi
	exit "$rc"
}

# background LOG CMD...: a process that must outlive the demo with --keep:
# its own session, no terminal, output to LOG. setsid and ip netns exec both
# exec, so last_pid is the program's own pid.
background() {
	local log=$1
	shift
	setsid "$@" </dev/null >"$log" 2>&1 &
	last_pid=$!
}

# send_requests NS: sends $requests HTTP requests, each on a new TCP
# connection, 32 at a time, from namespace NS to the VIP (vec-loadgen) and
# prints its report, kept in $LOG_DIR/loadgen.txt; fails when a request
# failed. Sets per_server to the report's counts ("s1=N s2=N …").
send_requests() {
	local rc=0
	ip netns exec "$1" bin/vec-loadgen -mode http -n "$requests" -c 32 >"$LOG_DIR/loadgen.txt" 2>&1 || rc=$?
	cat "$LOG_DIR/loadgen.txt"
	((rc == 0)) || fail "vec-loadgen reported failed requests (exit $rc)"
	per_server=$(sed -n 's/^per server: //p' "$LOG_DIR/loadgen.txt")
}

# check_spread COUNTS WEIGHTS: prints each server's share of the requests
# (COUNTS: "s1=N s2=N …", as vec-loadgen's "per server:" line) against its
# weight's share (WEIGHTS: "s1=W s2=W …", in the order to print), and fails
# when one strays more than TOLERANCE from it.
check_spread() {
	awk -v counts="$1" -v weights="$2" -v tol="$TOLERANCE" 'BEGIN {
		gsub(/^[ \n]+|[ \n]+$/, "", counts); gsub(/^[ \n]+|[ \n]+$/, "", weights)
		n = split(counts, c, /[ \n]+/); for (i = 1; i <= n; i++) { split(c[i], kv, "="); got[kv[1]] = kv[2]; total += kv[2] }
		m = split(weights, w, /[ \n]+/); for (i = 1; i <= m; i++) { split(w[i], kv, "="); name[i] = kv[1]; weight[i] = kv[2]; wsum += kv[2] }
		printf "%-8s %6s %9s %7s %13s\n", "server", "weight", "requests", "share", "weight share"
		bad = 0
		for (i = 1; i <= m; i++) {
			s = name[i]; share = got[s] / total; want = weight[i] / wsum
			mark = ""
			if (share < want * (1 - tol) || share > want * (1 + tol)) { mark = "  <- outside ±5 %"; bad = 1 }
			printf "%-8s %6d %9d %6.1f%% %12.1f%%%s\n", s, weight[i], got[s], 100 * share, 100 * want, mark
		}
		printf "%-8s %6d %9d\n", "total", wsum, total
		exit bad
	}' || fail "the spread does not follow the weights"
}
