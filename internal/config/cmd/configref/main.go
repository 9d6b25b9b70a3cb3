// Command configref writes Warden's configuration reference
// (docs/CONFIGURATION.md) from the configuration schema. It is run by
// `go generate ./internal/config`; TestConfigurationReferenceIsCurrent fails
// when the file and the schema differ.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/wardenhq/warden/internal/config"
)

func main() {
	out := flag.String("o", "", "file to write (default: standard output)")
	flag.Parse()
	var b bytes.Buffer
	if err := config.WriteReference(&b); err != nil {
		fmt.Fprintln(os.Stderr, "configref:", err)
		os.Exit(1)
	}
	if *out == "" {
		_, _ = os.Stdout.Write(b.Bytes())
		return
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "configref:", err)
		os.Exit(1)
	}
}
