package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The example echo plugin of each SDK that serves go-plugin's controller,
// stdio and broker and speaks AutoMTLS, as scripts/test.sh builds it
// (scripts/build-examples.sh and each sdk-examples/<language>/setup.sh).
var plugins = map[string]string{
	"rust":   "target/plugwire-examples-debug/echo/plugwire-example-echo",
	"go":     "sdk-examples/go/echo-go",
	"python": "sdk-examples/python/plugin",
	"node":   "sdk-examples/node/plugin",
}

// go-plugin's Kill gives a plugin two seconds to exit after the controller's
// Shutdown before it kills the process; plugwire plugins exit well within
// this bound, which leaves room for a loaded 2-core machine.
const killBoundMillis = 100

func TestGoPluginHostDrivesEveryPlugwirePlugin(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for language, rel := range plugins {
		path := filepath.Join(root, rel)
		for _, autoMTLS := range []bool{false, true} {
			name := language + "/plaintext"
			if autoMTLS {
				name = language + "/automtls"
			}
			t.Run(name, func(t *testing.T) {
				if _, err := os.Stat(path); err != nil {
					t.Fatalf("%s is not built (%v): run PLUGWIRE_PROFILE=debug scripts/build-examples.sh and sdk-examples/go/setup.sh first", path, err)
				}
				var logs strings.Builder
				outcome, err := Drive([]string{path}, autoMTLS, "echo", `{"text":"hi from go-plugin"}`, &logs)
				if err != nil {
					t.Fatalf("%v\nlogs:\n%s", err, logs.String())
				}
				if outcome.ToolIsError || outcome.ToolResult != `"hi from go-plugin"` {
					t.Errorf("echo returned %q (is_error %v), expected the text back as a JSON string", outcome.ToolResult, outcome.ToolIsError)
				}
				if !outcome.Graceful {
					t.Errorf("the plugin did not exit on the controller's Shutdown; go-plugin killed it\nlogs:\n%s", logs.String())
				}
				if outcome.KillMillis >= killBoundMillis {
					t.Errorf("Kill took %d ms, expected under %d ms", outcome.KillMillis, killBoundMillis)
				}
				if !outcome.SocketRemoved {
					t.Errorf("the plugin's socket is still there after Kill")
				}
				t.Logf("%s: kill %d ms", name, outcome.KillMillis)
			})
		}
	}
}
