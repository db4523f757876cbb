// Command fpmdoctor-watch is `fpmdoctor watch`: the long-running watcher
// that serves the diagnosis to Prometheus. It is a binary of its own so
// that fpmdoctor's other commands do not link Prometheus' client library
// (internal/watchcmd says why); `fpmdoctor watch` runs it.
package main

import (
	"os"

	"github.com/fpmdoctor/fpmdoctor/internal/watchcmd"
)

func main() {
	os.Exit(watchcmd.Main(os.Args[1:]))
}
