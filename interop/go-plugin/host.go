// Command go-plugin-host is a plugin host built on HashiCorp go-plugin, as
// an application that already uses go-plugin would write one: it starts a
// plugwire plugin with plugin.NewClient, calls one of its tools over the
// connection go-plugin dials, and stops it with Client.Kill.
//
//	go run . [-automtls] [-tool echo] [-arguments '{"text":"hi"}'] -- PLUGIN [ARGS...]
//
// It prints one JSON line: what the tool returned, how long Kill took,
// whether the plugin exited on its own (go-plugin's graceful path) and
// whether its socket is gone. interop_test.go runs it against plugwire's
// example plugins in every language, with and without AutoMTLS.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

// plugwire's handshake: its magic cookie and protocol version 1
// (docs/protocol.md, PW-BOOT-1).
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PLUGWIRE_PLUGIN",
	MagicCookieValue: "5d3c1f0e-plugwire",
}

// connPlugin hands the host go-plugin's gRPC connection itself: plugwire's
// services are called on it with plugwire's own stubs.
type connPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (connPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("connPlugin is the host side only")
}

func (connPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return conn, nil
}

// Outcome is what one run observed.
type Outcome struct {
	Plugin        string `json:"plugin"`
	AutoMTLS      bool   `json:"automtls"`
	PluginName    string `json:"plugin_name"`
	ToolResult    string `json:"tool_result"`
	ToolIsError   bool   `json:"tool_is_error"`
	KillMillis    int64  `json:"kill_ms"`
	Graceful      bool   `json:"graceful"`
	SocketRemoved bool   `json:"socket_removed"`
}

// lockedBuffer collects go-plugin's log lines from its goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Drive starts argv as a go-plugin plugin, calls tool with arguments, and
// kills it. logs receives go-plugin's and the plugin's log lines.
func Drive(argv []string, autoMTLS bool, tool, arguments string, logs io.Writer) (*Outcome, error) {
	var seen lockedBuffer
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "go-plugin-host",
		Output: io.MultiWriter(&seen, logs),
		Level:  hclog.Debug,
	})
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          plugin.PluginSet{"plugwire": connPlugin{}},
		Cmd:              exec.Command(argv[0], argv[1:]...),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         autoMTLS,
		StartTimeout:     30 * time.Second,
		Logger:           logger,
	})
	defer client.Kill()

	rpc, err := client.Client()
	if err != nil {
		return nil, fmt.Errorf("go-plugin could not start %s: %w", argv[0], err)
	}
	raw, err := rpc.Dispense("plugwire")
	if err != nil {
		return nil, fmt.Errorf("dispense: %w", err)
	}
	if err := rpc.Ping(); err != nil {
		return nil, fmt.Errorf("go-plugin's health ping failed: %w", err)
	}
	conn := raw.(*grpc.ClientConn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// plugwire's lifecycle: one Handshake, one Configure, then calls.
	plugins := pb.NewPluginServiceClient(conn)
	hello, err := plugins.Handshake(ctx, &pb.HandshakeRequest{
		Host:            &pb.HostInfo{Name: "go-plugin-host", Version: "0.1.0"},
		ProtocolVersion: 1,
		InstanceId:      "go-plugin-host-1",
		PluginName:      "plugin",
	})
	if err != nil {
		return nil, fmt.Errorf("Handshake: %w", err)
	}
	if _, err := plugins.Configure(ctx, &pb.ConfigureRequest{ConfigJson: "{}"}); err != nil {
		return nil, fmt.Errorf("Configure: %w", err)
	}
	called, err := pb.NewToolServiceClient(conn).CallTool(ctx, &pb.CallToolRequest{Name: tool, ArgumentsJson: arguments})
	if err != nil {
		return nil, fmt.Errorf("CallTool %s: %w", tool, err)
	}

	socket := ""
	if reattach := client.ReattachConfig(); reattach != nil && reattach.Addr != nil && reattach.Addr.Network() == "unix" {
		socket = reattach.Addr.String()
	}
	started := time.Now()
	client.Kill()
	killed := time.Since(started)
	_, statErr := os.Stat(socket)

	return &Outcome{
		Plugin:        argv[0],
		AutoMTLS:      autoMTLS,
		PluginName:    hello.GetPlugin().GetName(),
		ToolResult:    called.GetResult().GetContentJson(),
		ToolIsError:   called.GetResult().GetIsError(),
		KillMillis:    killed.Milliseconds(),
		Graceful:      client.Exited() && !strings.Contains(seen.String(), "plugin failed to exit gracefully"),
		SocketRemoved: socket != "" && errors.Is(statErr, os.ErrNotExist),
	}, nil
}

func main() {
	autoMTLS := flag.Bool("automtls", false, "negotiate go-plugin's AutoMTLS")
	tool := flag.String("tool", "echo", "the tool to call")
	arguments := flag.String("arguments", `{"text":"hi"}`, "the tool's arguments (JSON)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: go-plugin-host [-automtls] [-tool NAME] [-arguments JSON] -- PLUGIN [ARGS...]")
		os.Exit(2)
	}
	outcome, err := Drive(flag.Args(), *autoMTLS, *tool, *arguments, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-plugin-host:", err)
		os.Exit(1)
	}
	line, _ := json.Marshal(outcome)
	fmt.Println(string(line))
}
