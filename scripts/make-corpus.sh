#!/usr/bin/env bash
# make-corpus.sh — regenerate the malformed-frame corpus of vecd's tests.
#
#   ./scripts/make-corpus.sh
#
# Writes cmd/vecd/testdata/corpus/{input.pcap,expected.pcap,expected.txt}
# from internal/corpus (a fixed seed: the same files on every run). Commit
# the result; cmd/vecd's TestCorpusFiles fails while the committed files
# differ from what the generator makes, and TestMalformedCorpus replays
# input.pcap through vecd.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

go run ./internal/corpus/gen -out cmd/vecd/testdata/corpus
