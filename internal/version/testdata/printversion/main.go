// Command printversion prints version.Get() for TestLdflags.
package main

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/version"
)

func main() { fmt.Print(version.Get().String()) }
