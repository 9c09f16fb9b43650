// Package rules holds the user metrics of the patent (IBM's rules): conditions
// set by an operator under which some servers of a service get a fixed
// weight — 0 to keep new connections off them — whatever the other metrics
// say.
//
// A rule is one of:
//
//   - window: holds every day from From to To, "HH:MM" in the gateway's local
//     time, From included and To excluded; a window whose To is earlier than
//     its From crosses midnight ("22:00".."02:00").
//   - block: holds once, from From to To, absolute RFC 3339 times
//     ("2024-06-01T02:00:00+02:00"); an administrative block of a server set.
//   - always: always holds.
//   - script: an executable run without a shell every Interval (default 10s,
//     at least 100ms) with a timeout of the smaller of Interval and 10s; the
//     rule holds while its last run exited 0. Until the first run ends, and
//     after a run that could not start or timed out (an error in Status), it
//     does not hold.
//
// A Set holds rules with distinct names; which service a rule's servers
// belong to is the caller's business, as is checking weights against that
// service's weight bound. New validates every rule and names the rule and
// field of each problem. Holding and Status take the time to judge
// window and block rules by, so the caller's clock decides; script rules
// report their last run.
package rules
