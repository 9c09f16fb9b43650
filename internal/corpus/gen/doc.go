// Command gen writes the malformed-frame corpus of package corpus (the
// input capture, the expected output capture and the per-frame list of
// outcomes) into a directory:
//
//	go run ./internal/corpus/gen -out cmd/vecd/testdata/corpus
//
// scripts/make-corpus.sh runs it. The output is the same on every run: the
// random frames come from a fixed seed.
package main
