package plugwire

// Test a plugin inside your own test, over a real socket, with the host's
// side of the protocol (Handshake, Configure) done for you.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

// TestHost serves a plugin in this process and talks to it as a host does.
type TestHost struct {
	// Conn reaches every service on the plugin's socket.
	Conn *grpc.ClientConn
	// Handshake is the plugin's answer.
	Handshake *pb.HandshakeResponse
	run       *running
	dir       string
}

// StartTest serves p, then performs Handshake and, unless config is nil,
// Configure with it.
func StartTest(p *Plugin, config map[string]any) (*TestHost, error) {
	dir, err := os.MkdirTemp("", "pw-test-")
	if err != nil {
		return nil, err
	}
	r, err := start(p, filepath.Join(dir, SocketFileName), 1, "", nil)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient("unix://"+r.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	h := &TestHost{Conn: conn, run: r, dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := pb.NewPluginServiceClient(conn)
	if h.Handshake, err = client.Handshake(ctx, &pb.HandshakeRequest{ProtocolVersion: 1, PluginName: p.Name}); err != nil {
		h.Close()
		return nil, err
	}
	if config != nil {
		raw, _ := json.Marshal(config)
		if _, err := client.Configure(ctx, &pb.ConfigureRequest{ConfigJson: string(raw)}); err != nil {
			h.Close()
			return nil, err
		}
	}
	return h, nil
}

// CallTool calls a tool with JSON arguments; protocol errors are statuses.
func (h *TestHost) CallTool(ctx context.Context, name, arguments string) (*pb.ToolResult, error) {
	r, err := pb.NewToolServiceClient(h.Conn).CallTool(ctx, &pb.CallToolRequest{Name: name, ArgumentsJson: arguments})
	if err != nil {
		return nil, err
	}
	return r.Result, nil
}

// RunCommand runs a command with stdin, then closes it: its stdout,
// stderr and exit code.
func (h *TestHost) RunCommand(ctx context.Context, command string, flags map[string]any, args []string, stdin string) (string, string, int, error) {
	stream, err := pb.NewCommandServiceClient(h.Conn).RunCommand(ctx)
	if err != nil {
		return "", "", 0, err
	}
	raw, _ := json.Marshal(flags)
	msgs := []*pb.RunCommandRequest{
		{Message: &pb.RunCommandRequest_Start{Start: &pb.CommandStart{Command: command, FlagsJson: string(raw), Args: args}}},
		{Message: &pb.RunCommandRequest_Stdin{Stdin: []byte(stdin)}},
		{Message: &pb.RunCommandRequest_StdinClose{StdinClose: &pb.StdinClose{}}},
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			return "", "", 0, err
		}
	}
	var out, errOut []byte
	for {
		r, err := stream.Recv()
		if err != nil {
			return string(out), string(errOut), 0, err
		}
		switch m := r.Message.(type) {
		case *pb.RunCommandResponse_Stdout:
			out = append(out, m.Stdout...)
		case *pb.RunCommandResponse_Stderr:
			errOut = append(errOut, m.Stderr...)
		case *pb.RunCommandResponse_Exit:
			return string(out), string(errOut), int(m.Exit.Code), nil
		}
	}
}

// Close stops the plugin and removes its socket.
func (h *TestHost) Close() {
	_ = h.Conn.Close()
	h.run.stop(500 * time.Millisecond)
	<-h.run.stopped
	_ = os.RemoveAll(h.dir)
}
