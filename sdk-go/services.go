package plugwire

// The protocol's services over a Plugin's declarations (grpc-go).

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

// SDKVersion is sent in the handshake.
const SDKVersion = "0.1.0"

// state is what every service shares.
type state struct {
	plugin     *Plugin
	version    int
	hostSocket string
	stop       func(grace float64)

	mu     sync.Mutex
	config map[string]any
	host   *HostClient
}

func (s *state) configured() (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.config == nil {
		return nil, status.Error(codes.FailedPrecondition, "the plugin is not configured yet: the host calls Configure after Handshake, before any call")
	}
	return s.config, nil
}

func (s *state) hostFor(ctx context.Context) *HostClient {
	s.mu.Lock()
	host := s.host
	s.mu.Unlock()
	chain := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(callChain)) > 0 {
		chain = md.Get(callChain)[0]
	}
	return host.forCall(chain)
}

type pluginService struct {
	pb.UnimplementedPluginServiceServer
	s *state
}

func (ps *pluginService) Handshake(_ context.Context, r *pb.HandshakeRequest) (*pb.HandshakeResponse, error) {
	s := ps.s
	if int(r.ProtocolVersion) != s.version {
		return nil, status.Errorf(codes.FailedPrecondition, "protocol version %d differs from the version printed (%d)", r.ProtocolVersion, s.version)
	}
	offered := false
	for _, f := range r.Features {
		offered = offered || f == "host.service"
	}
	s.mu.Lock()
	s.host = dialHost(s.hostSocket, offered, r.HostServices)
	s.mu.Unlock()
	p := s.plugin
	caps := &pb.Capabilities{}
	for _, t := range p.tools {
		caps.Tools = append(caps.Tools, t.spec.Name)
	}
	for _, c := range p.commands {
		caps.Commands = append(caps.Commands, c.fullName())
	}
	for _, h := range p.hooks {
		caps.Hooks = append(caps.Hooks, h.subscription())
	}
	for _, v := range p.providers {
		caps.Providers = append(caps.Providers, &pb.ProviderDeclaration{Service: v.service, Name: v.name})
	}
	features := append([]string(nil), p.features...)
	if len(p.tools) > 0 {
		features = append(features, "tool.progress")
	}
	return &pb.HandshakeResponse{
		Plugin:       &pb.PluginInfo{Name: p.Name, Version: p.Version, Description: p.Description},
		Sdk:          &pb.SdkInfo{Name: "plugwire-go", Version: SDKVersion},
		Features:     features,
		Capabilities: caps,
	}, nil
}

func (ps *pluginService) Configure(_ context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	text := strings.TrimSpace(r.ConfigJson)
	if text == "" {
		text = "{}"
	}
	var config map[string]any
	if err := json.Unmarshal([]byte(text), &config); err != nil || config == nil {
		return nil, status.Errorf(codes.InvalidArgument, "config: expected a JSON object, saw %s", short(text))
	}
	if _, err := ps.s.configured(); err == nil {
		return nil, status.Error(codes.FailedPrecondition, "the plugin is already configured; Configure is called once per process")
	}
	for _, fn := range ps.s.plugin.configure {
		if err := fn(config); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return nil, status.Error(codes.InvalidArgument, ce.Error())
			}
			return nil, status.Errorf(codes.InvalidArgument, "config: %v", err)
		}
	}
	ps.s.mu.Lock()
	ps.s.config = config
	ps.s.mu.Unlock()
	return &pb.ConfigureResponse{}, nil
}

func (ps *pluginService) Shutdown(_ context.Context, r *pb.ShutdownRequest) (*pb.ShutdownResponse, error) {
	grace := defaultGrace.Seconds()
	if r.Grace != nil {
		grace = r.Grace.AsDuration().Seconds()
	}
	ps.s.stop(grace)
	return &pb.ShutdownResponse{}, nil
}

type toolService struct {
	pb.UnimplementedToolServiceServer
	s *state
}

func (ts *toolService) ListTools(context.Context, *pb.ListToolsRequest) (*pb.ListToolsResponse, error) {
	r := &pb.ListToolsResponse{}
	for _, t := range ts.s.plugin.tools {
		r.Tools = append(r.Tools, &pb.Tool{
			Name:             t.spec.Name,
			Description:      t.spec.Description,
			InputSchemaJson:  string(t.args.schema),
			OutputSchemaJson: string(t.output),
			Annotations:      &pb.ToolAnnotations{ReadOnly: t.spec.ReadOnly, Destructive: t.spec.Destructive, Idempotent: t.spec.Idempotent, OpenWorld: t.spec.OpenWorld},
		})
	}
	return r, nil
}

func (ts *toolService) prepare(ctx context.Context, name, arguments string) (*tool, *ToolContext, error) {
	config, err := ts.s.configured()
	if err != nil {
		return nil, nil, err
	}
	var found *tool
	var names []string
	for _, t := range ts.s.plugin.tools {
		names = append(names, t.spec.Name)
		if t.spec.Name == name {
			found = t
		}
	}
	if found == nil {
		return nil, nil, status.Errorf(codes.NotFound, "no tool %q; this plugin has: %s", name, strings.Join(names, ", "))
	}
	check := found.args.check
	if argumentsValidated(ctx) {
		// PW-TOOL-16: the host checked them against the schema we listed;
		// what is left is that they are an object (decoding does the rest).
		check = isObject
	}
	if pointer, problem := check(arguments); problem != "" {
		return nil, nil, status.Error(codes.InvalidArgument, located("arguments", pointer, problem))
	}
	return found, &ToolContext{Tool: name, Config: config, Host: ts.s.hostFor(ctx)}, nil
}

func (ts *toolService) CallTool(ctx context.Context, r *pb.CallToolRequest) (*pb.CallToolResponse, error) {
	t, cx, err := ts.prepare(ctx, r.Name, r.ArgumentsJson)
	if err != nil {
		return nil, err
	}
	result, err := t.call(ctx, cx, r.ArgumentsJson)
	if err != nil {
		return nil, callError(err)
	}
	return &pb.CallToolResponse{Result: result}, nil
}

func (ts *toolService) CallToolStream(r *pb.CallToolStreamRequest, stream grpc.ServerStreamingServer[pb.CallToolStreamResponse]) error {
	ctx := stream.Context()
	t, cx, err := ts.prepare(ctx, r.Name, r.ArgumentsJson)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	cx.send = func(p *pb.ToolProgress) {
		mu.Lock()
		defer mu.Unlock()
		_ = stream.Send(&pb.CallToolStreamResponse{Event: &pb.CallToolStreamResponse_Progress{Progress: p}})
	}
	result, err := t.call(ctx, cx, r.ArgumentsJson)
	if err != nil {
		return callError(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return stream.Send(&pb.CallToolStreamResponse{Event: &pb.CallToolStreamResponse_Result{Result: result}})
}

// callError keeps a status the call already chose (arguments that do not
// decode are InvalidArgument) and maps the rest, a cancelled or expired
// context among them, to their gRPC codes.
func callError(err error) error {
	if s, ok := status.FromError(err); ok {
		return s.Err()
	}
	return status.FromContextError(err).Err()
}

type commandService struct {
	pb.UnimplementedCommandServiceServer
	s *state
}

func (cs *commandService) ListCommands(context.Context, *pb.ListCommandsRequest) (*pb.ListCommandsResponse, error) {
	r := &pb.ListCommandsResponse{}
	for _, c := range cs.s.plugin.commands {
		r.Commands = append(r.Commands, c.declaration())
	}
	return r, nil
}

func (cs *commandService) RunCommand(stream grpc.BidiStreamingServer[pb.RunCommandRequest, pb.RunCommandResponse]) error {
	config, err := cs.s.configured()
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return nil
	}
	start := first.GetStart()
	if start == nil {
		return status.Error(codes.InvalidArgument, "the first RunCommand message must be `start`")
	}
	command := cs.s.plugin.command(start.Command)
	if command == nil {
		return status.Errorf(codes.NotFound, "no command %q", start.Command)
	}
	var flags map[string]any
	_ = json.Unmarshal([]byte(orEmptyObject(start.FlagsJson)), &flags)
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	stdin, feed := io.Pipe()
	go func() {
		// PW-CMD-5: stdin ends at stdin_close or a half-close.
		defer feed.Close()
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			switch {
			case m.GetStdin() != nil:
				if _, err := feed.Write(m.GetStdin()); err != nil {
					return
				}
			case m.GetStdinClose() != nil:
				_ = feed.Close()
			case m.GetSignal() != pb.Signal_SIGNAL_UNSPECIFIED:
				cancel()
			}
		}
	}()
	var mu sync.Mutex
	send := func(m *pb.RunCommandResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return stream.Send(m)
	}
	cx := &CommandContext{
		Command: start.Command,
		Flags:   flags,
		Args:    start.Args,
		Env:     start.Env,
		Stdin:   stdin,
		Stdout:  streamWriter{func(b []byte) error { return send(&pb.RunCommandResponse{Message: &pb.RunCommandResponse_Stdout{Stdout: b}}) }},
		Stderr:  streamWriter{func(b []byte) error { return send(&pb.RunCommandResponse{Message: &pb.RunCommandResponse_Stderr{Stderr: b}}) }},
		Config:  config,
	}
	code := command.Run(ctx, cx)
	_ = stdin.Close()
	return send(&pb.RunCommandResponse{Message: &pb.RunCommandResponse_Exit{Exit: &pb.CommandExit{Code: int32(code)}}})
}

type hookService struct {
	pb.UnimplementedHookServiceServer
	s *state
}

func (hs *hookService) HandleEvent(ctx context.Context, r *pb.HandleEventRequest) (*pb.HandleEventResponse, error) {
	if _, err := hs.s.configured(); err != nil {
		return nil, err
	}
	proceed := &pb.HandleEventResponse{Decision: pb.Decision_DECISION_CONTINUE}
	intercept := r.Mode == pb.HookMode_HOOK_MODE_INTERCEPT
	for _, h := range hs.s.plugin.hooks {
		if h.Intercept != intercept || r.Event == nil || !patternMatches(h.Pattern, r.Event.Name) {
			continue
		}
		event := HookEvent{ID: r.Event.Id, Name: r.Event.Name, Payload: json.RawMessage(r.Event.PayloadJson), Source: r.Event.Source, Pattern: r.Pattern}
		if r.Event.Time != nil {
			event.Time = r.Event.Time.AsTime()
		}
		decision, err := h.Handle(ctx, event)
		if err != nil {
			if ctx.Err() != nil {
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return nil, status.Errorf(codes.Internal, "hook %s: %v", h.Pattern, err)
		}
		response, err := decision.response()
		if err != nil {
			return nil, status.Errorf(codes.Internal, "hook %s: %v", h.Pattern, err)
		}
		return response, nil
	}
	return proceed, nil // PW-HOOK-6
}
