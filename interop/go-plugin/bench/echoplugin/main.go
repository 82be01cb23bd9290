// Command go-plugin-echo is the plugin side of the go-plugin baseline in
// plugwire's benchmark: plugin.Serve with go-plugin's defaults, serving the
// echo service of package echo.
package main

import (
	"context"

	"github.com/hashicorp/go-plugin"

	"plugwire.dev/interop/go-plugin/bench/echo"
)

type server struct{}

func (server) Echo(_ context.Context, data []byte) ([]byte, error) { return data, nil }

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: echo.Handshake,
		Plugins:         plugin.PluginSet{"echo": echo.Plugin{Impl: server{}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
