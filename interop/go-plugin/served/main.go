// Command go-plugin-served is a plugwire plugin as an author who already
// uses HashiCorp go-plugin would write one: plugwire's services, from
// plugwire's generated stubs, registered into the server that go-plugin's
// plugin.Serve runs, with go-plugin's defaults left as they are. The
// plugwire host's tests run it (host/tests/go_plugin.rs): go-plugin swaps
// the plugin's stdout and stderr for pipes that only its GRPCStdio stream
// drains, stops the process through its GRPCController, and keeps gRPC's
// 4 MiB receive limit.
//
// Tools: "echo" returns {"text"}; "chatty" writes {"bytes"} bytes to each
// of stdout and stderr, in lines ending with a marker, before answering.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

// name is the manifest's (plugin.toml beside this file).
const name = "go-plugin-served"

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "PLUGWIRE_PLUGIN",
			MagicCookieValue: "5d3c1f0e-plugwire",
		},
		Plugins:    plugin.PluginSet{"plugwire": servedPlugin{}},
		GRPCServer: plugin.DefaultGRPCServer,
	})
}

// servedPlugin registers plugwire's services on go-plugin's server.
type servedPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (servedPlugin) GRPCServer(_ *plugin.GRPCBroker, server *grpc.Server) error {
	pb.RegisterPluginServiceServer(server, &lifecycle{})
	pb.RegisterToolServiceServer(server, &tools{})
	return nil
}

func (servedPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("%s is a plugin, not a host", name)
}

// lifecycle leaves Shutdown unimplemented: go-plugin owns the process's
// end, through its controller.
type lifecycle struct {
	pb.UnimplementedPluginServiceServer
	configured bool
}

func (l *lifecycle) Handshake(_ context.Context, req *pb.HandshakeRequest) (*pb.HandshakeResponse, error) {
	if req.GetProtocolVersion() != 1 {
		return nil, status.Errorf(codes.FailedPrecondition, "protocol version %d is not 1", req.GetProtocolVersion())
	}
	return &pb.HandshakeResponse{
		Plugin:       &pb.PluginInfo{Name: name, Version: "0.1.0"},
		Sdk:          &pb.SdkInfo{Name: "go-plugin", Version: "1.8.0"},
		Capabilities: &pb.Capabilities{Tools: []string{"echo", "chatty"}},
	}, nil
}

func (l *lifecycle) Configure(context.Context, *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	l.configured = true
	return &pb.ConfigureResponse{}, nil
}

type tools struct {
	pb.UnimplementedToolServiceServer
}

func (tools) ListTools(context.Context, *pb.ListToolsRequest) (*pb.ListToolsResponse, error) {
	return &pb.ListToolsResponse{Tools: []*pb.Tool{
		{
			Name:            "echo",
			Description:     "Returns its text",
			InputSchemaJson: `{"type":"object","properties":{"text":{"type":"string"}},"required":["text"],"additionalProperties":false}`,
		},
		{
			Name:            "chatty",
			Description:     "Writes bytes to stdout and stderr, then answers",
			InputSchemaJson: `{"type":"object","properties":{"bytes":{"type":"integer","minimum":0,"maximum":67108864}},"required":["bytes"],"additionalProperties":false}`,
		},
	}}, nil
}

func (tools) CallTool(_ context.Context, req *pb.CallToolRequest) (*pb.CallToolResponse, error) {
	switch req.GetName() {
	case "echo":
		var args struct{ Text string }
		if err := json.Unmarshal([]byte(req.GetArgumentsJson()), &args); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "/: %v", err)
		}
		text, _ := json.Marshal(args.Text)
		return &pb.CallToolResponse{Result: &pb.ToolResult{ContentJson: string(text)}}, nil
	case "chatty":
		var args struct{ Bytes int }
		if err := json.Unmarshal([]byte(req.GetArgumentsJson()), &args); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "/: %v", err)
		}
		// Lines of 32 KiB, so that megabytes stay within the host's log
		// rate; the last line of each stream names it.
		line := strings.Repeat("x", 32*1024-1) + "\n"
		for written := 0; written < args.Bytes; written += len(line) {
			fmt.Fprint(os.Stdout, line)
			fmt.Fprint(os.Stderr, line)
		}
		fmt.Fprintln(os.Stdout, "chatty: end of stdout")
		fmt.Fprintln(os.Stderr, "chatty: end of stderr")
		return &pb.CallToolResponse{Result: &pb.ToolResult{ContentJson: fmt.Sprint(args.Bytes)}}, nil
	}
	return nil, status.Errorf(codes.NotFound, "no tool %q", req.GetName())
}
