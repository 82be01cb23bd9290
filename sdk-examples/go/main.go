// Command echo-go is the echo plugin in Go: the echo tool, the command cat,
// and the conformance fixture profile of docs/conformance.md (the tools
// sleep and stats, the command exit, the hook conformance.intercept).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "plugwire.dev/examples/echo-go/gen/plugwire/v1"
)

const (
	name        = "echo-go"
	version     = "0.1.0"
	chunk       = 64 << 10
	hookPattern = "conformance.intercept"
)

// property is the subset of JSON Schema these tools use.
type property struct {
	Type    string   `json:"type"`
	Minimum *float64 `json:"minimum,omitempty"`
	Maximum *float64 `json:"maximum,omitempty"`
}

type schema struct {
	Type                 string              `json:"type"`
	Properties           map[string]property `json:"properties"`
	Required             []string            `json:"required,omitempty"`
	AdditionalProperties bool                `json:"additionalProperties"`
}

type tool struct {
	name        string
	description string
	schema      schema
}

func bound(v float64) *float64 { return &v }

var tools = []tool{
	{"echo", "Returns the `text` argument unchanged", schema{
		Type: "object", Properties: map[string]property{"text": {Type: "string"}}, Required: []string{"text"},
	}},
	{"sleep", "Sleeps `ms` milliseconds; stops when cancelled (conformance fixture)", schema{
		Type: "object", Properties: map[string]property{"ms": {Type: "integer", Minimum: bound(0), Maximum: bound(60000)}}, Required: []string{"ms"},
	}},
	{"stats", "Sleeps in progress and sleeps cancelled (conformance fixture)", schema{
		Type: "object", Properties: map[string]property{},
	}},
}

var commands = []*pb.Command{
	{Name: "cat", Usage: "cat", Short: "Copy standard input to standard output"},
	{Name: "exit", Usage: "exit [--code N]", Short: "Print to both streams and exit with --code (conformance fixture)",
		Flags: []*pb.Flag{{Name: "code", Type: pb.FlagType_FLAG_TYPE_INT, Description: "The exit code", DefaultJson: "0"}}},
}

func findTool(name string) *tool {
	for i := range tools {
		if tools[i].name == name {
			return &tools[i]
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// checkArguments validates against the tool's schema with PW-TOOL-5 messages.
func checkArguments(s schema, raw string) (map[string]any, error) {
	if strings.TrimSpace(raw) == "" {
		raw = "{}"
	}
	var value any
	if err := json.Unmarshal([]byte(raw), &value); err != nil {
		return nil, invalid("arguments : not JSON: %v", err)
	}
	args, ok := value.(map[string]any)
	if !ok {
		return nil, invalid("arguments : expected a JSON object, saw %s", raw)
	}
	for _, name := range s.Required {
		if _, ok := args[name]; !ok {
			return nil, invalid("arguments /%s: %q is a required property", name, name)
		}
	}
	for name, v := range args {
		rule, ok := s.Properties[name]
		if !ok {
			return nil, invalid("arguments /%s: unknown property %q", name, name)
		}
		switch rule.Type {
		case "string":
			if _, ok := v.(string); !ok {
				return nil, invalid("arguments /%s: expected a string, saw %v", name, v)
			}
		case "integer":
			n, ok := v.(float64)
			if !ok || n != math.Trunc(n) {
				return nil, invalid("arguments /%s: expected an integer, saw %v", name, v)
			}
			if (rule.Minimum != nil && n < *rule.Minimum) || (rule.Maximum != nil && n > *rule.Maximum) {
				return nil, invalid("arguments /%s: expected %v to %v, saw %v", name, *rule.Minimum, *rule.Maximum, n)
			}
		}
	}
	return args, nil
}

// Sleeps in progress and sleeps stopped by cancellation.
var sleeping, cancelled atomic.Int64

// sleep waits ms, or less when ctx ends (deadline or client cancel).
func sleep(ctx context.Context, ms float64) bool {
	sleeping.Add(1)
	defer sleeping.Add(-1)
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return true
	case <-ctx.Done():
		cancelled.Add(1)
		return false
	}
}

type pluginService struct {
	pb.UnimplementedPluginServiceServer
	lifecycle  *lifecycle
	version    int
	configured atomic.Bool
}

func (p *pluginService) Handshake(_ context.Context, req *pb.HandshakeRequest) (*pb.HandshakeResponse, error) {
	if int(req.GetProtocolVersion()) != p.version {
		return nil, status.Errorf(codes.FailedPrecondition,
			"protocol version %d differs from the version printed (%d)", req.GetProtocolVersion(), p.version)
	}
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.name
	}
	return &pb.HandshakeResponse{
		Plugin:   &pb.PluginInfo{Name: name, Version: version, Description: "Echo tools, in Go"},
		Sdk:      &pb.SdkInfo{Name: "handwritten", Version: "grpc-go " + grpc.Version + " " + runtime.Version()},
		Features: []string{"conformance"},
		Capabilities: &pb.Capabilities{
			Tools:    names,
			Commands: []string{"cat", "exit"},
			Hooks: []*pb.HookSubscription{{
				Pattern: hookPattern, Mode: pb.HookMode_HOOK_MODE_INTERCEPT, FailurePolicy: pb.FailurePolicy_FAILURE_POLICY_OPEN,
			}},
		},
	}, nil
}

func (p *pluginService) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	text := strings.TrimSpace(req.GetConfigJson())
	if text == "" {
		text = "{}"
	}
	var config any
	if err := json.Unmarshal([]byte(text), &config); err != nil {
		return nil, invalid("config : expected a JSON object, the text is not JSON: %v", err)
	}
	if _, ok := config.(map[string]any); !ok {
		return nil, invalid("config : expected a JSON object, saw %s", text)
	}
	if !p.configured.CompareAndSwap(false, true) {
		return nil, status.Error(codes.FailedPrecondition, "the plugin is already configured; Configure is called once")
	}
	return &pb.ConfigureResponse{}, nil
}

func (p *pluginService) Shutdown(_ context.Context, req *pb.ShutdownRequest) (*pb.ShutdownResponse, error) {
	grace := 5 * time.Second
	if req.GetGrace() != nil {
		grace = req.GetGrace().AsDuration()
	}
	p.lifecycle.stop(grace)
	return &pb.ShutdownResponse{}, nil
}

type toolService struct {
	pb.UnimplementedToolServiceServer
}

func (toolService) ListTools(context.Context, *pb.ListToolsRequest) (*pb.ListToolsResponse, error) {
	out := make([]*pb.Tool, len(tools))
	for i, t := range tools {
		s, _ := json.Marshal(t.schema)
		out[i] = &pb.Tool{Name: t.name, Description: t.description, InputSchemaJson: string(s),
			Annotations: &pb.ToolAnnotations{ReadOnly: true}}
	}
	return &pb.ListToolsResponse{Tools: out}, nil
}

func (toolService) CallTool(ctx context.Context, req *pb.CallToolRequest) (*pb.CallToolResponse, error) {
	t := findTool(req.GetName())
	if t == nil {
		return nil, status.Errorf(codes.NotFound, "no tool %q; this plugin has echo, sleep, stats", req.GetName())
	}
	args, err := checkArguments(t.schema, req.GetArgumentsJson())
	if err != nil {
		return nil, err
	}
	var content any
	switch t.name {
	case "echo":
		content = args["text"]
	case "sleep":
		ms := args["ms"].(float64)
		if !sleep(ctx, ms) {
			return nil, status.Error(codes.Canceled, "the sleep was cancelled")
		}
		content = map[string]any{"slept_ms": ms}
	default:
		content = map[string]any{"sleeping": sleeping.Load(), "cancelled": cancelled.Load()}
	}
	text, err := json.Marshal(content)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding the result: %v", err)
	}
	return &pb.CallToolResponse{Result: &pb.ToolResult{ContentJson: string(text)}}, nil
}

type commandService struct {
	pb.UnimplementedCommandServiceServer
}

func (commandService) ListCommands(context.Context, *pb.ListCommandsRequest) (*pb.ListCommandsResponse, error) {
	return &pb.ListCommandsResponse{Commands: commands}, nil
}

func exitWith(stream grpc.BidiStreamingServer[pb.RunCommandRequest, pb.RunCommandResponse], code int32) error {
	return stream.Send(&pb.RunCommandResponse{Message: &pb.RunCommandResponse_Exit{Exit: &pb.CommandExit{Code: code}}})
}

func (commandService) RunCommand(stream grpc.BidiStreamingServer[pb.RunCommandRequest, pb.RunCommandResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return status.Error(codes.InvalidArgument, "the first RunCommand message must be `start`")
	}
	switch start.GetCommand() {
	case "exit":
		var flags struct {
			Code int32 `json:"code"`
		}
		if err := json.Unmarshal([]byte(start.GetFlagsJson()), &flags); err != nil && start.GetFlagsJson() != "" {
			return invalid("flags: %v", err)
		}
		for _, m := range []*pb.RunCommandResponse{
			{Message: &pb.RunCommandResponse_Stdout{Stdout: []byte("out\n")}},
			{Message: &pb.RunCommandResponse_Stderr{Stderr: []byte("err\n")}},
		} {
			if err := stream.Send(m); err != nil {
				return err
			}
		}
		return exitWith(stream, flags.Code)
	case "cat":
		// Copy each chunk as it arrives (PW-CMD-6) until stdin_close or a
		// half-close (PW-CMD-5).
		for {
			req, err := stream.Recv()
			if errors.Is(err, io.EOF) || req.GetStdinClose() != nil {
				return exitWith(stream, 0)
			}
			if err != nil {
				return err
			}
			data := req.GetStdin()
			for len(data) > 0 {
				n := min(len(data), chunk)
				if err := stream.Send(&pb.RunCommandResponse{Message: &pb.RunCommandResponse_Stdout{Stdout: data[:n]}}); err != nil {
					return err
				}
				data = data[n:]
			}
		}
	default:
		return status.Errorf(codes.NotFound, "no command %q", start.GetCommand())
	}
}

type hookService struct {
	pb.UnimplementedHookServiceServer
}

func (hookService) HandleEvent(ctx context.Context, req *pb.HandleEventRequest) (*pb.HandleEventResponse, error) {
	proceed := &pb.HandleEventResponse{Decision: pb.Decision_DECISION_CONTINUE}
	if req.GetEvent().GetName() != hookPattern {
		return proceed, nil // PW-HOOK-6
	}
	var payload map[string]any
	if err := json.Unmarshal([]byte(req.GetEvent().GetPayloadJson()), &payload); err != nil {
		return proceed, nil
	}
	if ms, ok := payload["sleep_ms"].(float64); ok {
		if !sleep(ctx, math.Min(ms, 60000)) {
			return nil, status.Error(codes.Canceled, "the delivery was cancelled")
		}
	}
	switch payload["decision"] {
	case "modify":
		payload["modified"] = true
		text, _ := json.Marshal(payload)
		return &pb.HandleEventResponse{Decision: pb.Decision_DECISION_MODIFY, PayloadJson: string(text)}, nil
	case "deny":
		reason, _ := payload["reason"].(string)
		if reason == "" {
			reason = "denied by the conformance fixture"
		}
		return &pb.HandleEventResponse{Decision: pb.Decision_DECISION_DENY, Reason: reason}, nil
	}
	return proceed, nil
}

func main() {
	serve(func(server *grpc.Server, l *lifecycle, v int) {
		pb.RegisterPluginServiceServer(server, &pluginService{lifecycle: l, version: v})
		pb.RegisterToolServiceServer(server, toolService{})
		pb.RegisterCommandServiceServer(server, commandService{})
		pb.RegisterHookServiceServer(server, hookService{})
	})
}
