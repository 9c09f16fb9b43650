package main

import (
	"flag"
	"fmt"
	"os"

	"vec/internal/corpus"
)

func main() {
	out := flag.String("out", "cmd/vecd/testdata/corpus", "directory to write the corpus into")
	flag.Parse()
	c, err := corpus.Build()
	if err == nil {
		err = c.Write(*out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "corpus: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("corpus: %d frames (%d forwarded, %d replies, %d learned, %d dropped) in %s\n", len(c.Frames),
		c.Count(corpus.Forward), c.Count(corpus.Reply), c.Count(corpus.Learned), c.Count(corpus.Drop), *out)
}
