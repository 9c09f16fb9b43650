// Package corpus builds the malformed-frame corpus of issue 13: frames
// truncated at every layer, lying length fields, IP options, fragments,
// every TCP flag combination on a miss and on a hit, UDP with lying lengths,
// VLAN tags, IPv6, ICMP, oversize frames, ARP variants, frames for other
// MACs and seeded random bytes, each with what the gateway must do with it:
// forward it to a named server with only its MACs rewritten, answer it (ARP),
// consume it (an ARP reply from a server resolved by ARP), or drop it under a
// named reason.
//
// The expectations come from a reference model written from the documented
// rules (docs/fastpath.md, the drop reasons of fastpath/counters.go and the
// decisions of issue 13), not from the fastpath's code: every hand-made case
// also declares its outcome, and Build fails when the model disagrees. The
// generator (internal/corpus/gen, run by scripts/make-corpus.sh) writes the
// corpus under cmd/vecd/testdata/corpus, and cmd/vecd's TestMalformedCorpus
// replays it through vecd on a net_pcap port.
package corpus
