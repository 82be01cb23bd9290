// The {{name}} plugin: one tool and one command.
package main

import (
	"bytes"
	"context"
	"io"

	"plugwire.dev/sdk-go"
)

// greetArgs are the greet tool's arguments; the tags make its schema.
type greetArgs struct {
	Name string `json:"name" jsonschema:"who to greet"`
}

func main() {
	p := plugwire.New("{{name}}", "0.1.0", "Greets people and shouts")
	plugwire.AddTool(p, plugwire.ToolSpec{Name: "greet", Description: "Greets someone by name", ReadOnly: true},
		func(_ context.Context, _ *plugwire.ToolContext, a greetArgs) (string, error) { return "hello, " + a.Name + "!", nil })
	p.AddCommand(plugwire.Command{Name: "shout", Short: "Upper-case standard input",
		Run: func(_ context.Context, cx *plugwire.CommandContext) int {
			text, _ := io.ReadAll(cx.Stdin)
			_, _ = cx.Stdout.Write(bytes.ToUpper(text))
			return 0
		}})
	p.Serve()
}
