package plugwire

// Tools: a name, a JSON Schema for the arguments, a handler that returns a
// JSON value (docs/protocol.md section 5).

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	inferred "github.com/google/jsonschema-go/jsonschema"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

// ToolError is the tool's own failure (PW-TOOL-6): the caller gets a
// result with is_error set and Content, not a protocol error.
type ToolError struct {
	// Content is what the caller reads: a string or any JSON value.
	Content any
}

func (e *ToolError) Error() string { return fmt.Sprint(e.Content) }

// Failf makes a ToolError with a formatted message.
func Failf(format string, args ...any) error {
	return &ToolError{Content: fmt.Sprintf(format, args...)}
}

// ToolContext is what a tool handler may ask of its call; the call's
// context carries cancellation and the deadline.
type ToolContext struct {
	// Tool is the tool's name.
	Tool string
	// Config is the plugin's configuration, as Configure gave it.
	Config map[string]any
	// Host is the host's service: storage, events, other tools.
	Host *HostClient

	send func(*pb.ToolProgress)
	last *float64
}

// Progress reports progress to a caller that streams (PW-TOOL-10/11); a
// report that does not increase is dropped. total <= 0 means unknown.
func (cx *ToolContext) Progress(progress, total float64, message string) {
	if cx.send == nil || (cx.last != nil && progress <= *cx.last) {
		return
	}
	cx.last = &progress
	p := &pb.ToolProgress{Progress: progress, Message: message}
	if total > 0 {
		t := max(total, progress)
		p.Total = &t
	}
	cx.send(p)
}

// TimeRemaining is the time until ctx's deadline; false without one.
func TimeRemaining(ctx context.Context) (time.Duration, bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	return time.Until(deadline), true
}

// ToolSpec declares a tool: its name, description and behaviour hints.
type ToolSpec struct {
	Name        string
	Description string
	// Schema, when set, is the input schema (a JSON object schema) instead
	// of the one inferred from the argument type.
	Schema      json.RawMessage
	ReadOnly    bool
	Destructive bool
	Idempotent  bool
	OpenWorld   bool
}

// tool is one declared tool.
type tool struct {
	spec   ToolSpec
	args   *arguments
	output json.RawMessage
	call   func(ctx context.Context, cx *ToolContext, arguments string) (*pb.ToolResult, error)
}

// AddTool adds a tool whose arguments are decoded into In (its schema
// inferred from In's struct tags, unless spec.Schema is given) and checked
// before handler runs; the result Out is sent as JSON. A *ToolError (or
// Failf) from handler is the tool's own failure; any other error is too,
// and is logged.
func AddTool[In, Out any](p *Plugin, spec ToolSpec, handler func(ctx context.Context, cx *ToolContext, args In) (Out, error)) {
	args, err := schemaOf[In](spec)
	if err != nil {
		panic(fmt.Sprintf("tool %s: %v", spec.Name, err))
	}
	p.addTool(&tool{
		spec:   spec,
		args:   args,
		output: outputSchema[Out](),
		call: func(ctx context.Context, cx *ToolContext, text string) (*pb.ToolResult, error) {
			var in In
			if err := json.Unmarshal([]byte(orEmptyObject(text)), &in); err != nil {
				return nil, status.Error(codes.InvalidArgument, located("arguments", "", err.Error()))
			}
			out, err := handler(ctx, cx, in)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				content := any(err.Error())
				if te, ok := err.(*ToolError); ok {
					content = te.Content
				} else {
					Log.Error("tool "+spec.Name+" failed", "error", err.Error())
				}
				raw, _ := json.Marshal(content)
				return &pb.ToolResult{IsError: true, ContentJson: string(raw)}, nil
			}
			raw, err := json.Marshal(out)
			if err != nil {
				return nil, fmt.Errorf("the result is not JSON: %w", err)
			}
			return &pb.ToolResult{ContentJson: string(raw)}, nil
		},
	})
}

// outputSchema is Out's schema when Out is a struct (a structured result).
func outputSchema[Out any]() json.RawMessage {
	t := reflect.TypeFor[Out]()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	schema, err := inferred.For[Out](nil)
	if err != nil {
		return nil
	}
	raw, _ := json.Marshal(schema)
	return raw
}

func schemaOf[In any](spec ToolSpec) (*arguments, error) {
	if spec.Schema != nil {
		return compileArguments(spec.Schema)
	}
	return argumentsFor[In]()
}

func orEmptyObject(text string) string {
	if text == "" {
		return "{}"
	}
	return text
}
