// Command fpmdoctor-probe is `fpmdoctor probe` alone, for container health
// checks: the same flags, the same runner (internal/probe/probecli) and the
// same exit statuses, in a binary that starts about as fast as an empty Go
// program because it leaves out everything else fpmdoctor carries (cobra,
// procfs, the config parsers, the fixers). It takes addresses only; pool
// and upstream names need `fpmdoctor probe`. See docs/probe.md.
package main

import (
	"context"
	"os"

	"github.com/fpmdoctor/fpmdoctor/internal/probe/probecli"
	_ "github.com/fpmdoctor/fpmdoctor/internal/stackstart" // one stack growth at start, not two
)

func main() {
	os.Exit(probecli.Main(context.Background(), "fpmdoctor-probe", os.Args[1:], os.Stdout, os.Stderr))
}
