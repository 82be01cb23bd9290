// Package plugwire writes plugwire plugins in Go.
//
// The SDK does everything docs/protocol.md asks of a plugin: the cookie,
// version negotiation, the socket, the bootstrap line, health, handshake,
// configuration, shutdown, and logs the host understands. You declare tools
// (their JSON Schema from your argument struct's tags), commands, hooks and
// providers:
//
//	type Greet struct {
//		Name string `json:"name" jsonschema:"who to greet"`
//	}
//
//	func main() {
//		p := plugwire.New("hello", "0.1.0", "Greets people")
//		plugwire.AddTool(p, plugwire.ToolSpec{Name: "greet", Description: "Greets someone", ReadOnly: true},
//			func(ctx context.Context, cx *plugwire.ToolContext, args Greet) (string, error) {
//				return "hello, " + args.Name + "!", nil
//			})
//		p.Serve()
//	}
package plugwire
