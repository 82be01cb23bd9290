package plugwire

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

type greetArgs struct {
	Name  string `json:"name" jsonschema:"who to greet"`
	Times int    `json:"times,omitempty"`
}

type total struct {
	Sum int `json:"sum"`
}

func testPlugin() *Plugin {
	p := New("sdk-test", "1.2.3", "Tests the SDK")
	AddTool(p, ToolSpec{Name: "greet", Description: "Greets someone", ReadOnly: true}, func(_ context.Context, _ *ToolContext, a greetArgs) (string, error) {
		return strings.Repeat("hello, "+a.Name+"! ", max(a.Times, 1)), nil
	})
	AddTool(p, ToolSpec{Name: "add", Description: "Adds"}, func(_ context.Context, _ *ToolContext, a struct {
		X int `json:"x"`
		Y int `json:"y"`
	}) (total, error) {
		return total{a.X + a.Y}, nil
	})
	AddTool(p, ToolSpec{Name: "literal", Description: "A literal schema", Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","minimum":0}},"required":["n"],"additionalProperties":false}`)},
		func(_ context.Context, _ *ToolContext, a map[string]any) (float64, error) { return a["n"].(float64) * 2, nil })
	AddTool(p, ToolSpec{Name: "refuse", Description: "Fails as tools do"}, func(_ context.Context, _ *ToolContext, a struct {
		Path string `json:"path"`
	}) (string, error) {
		return "", Failf("no such file: %s", a.Path)
	})
	AddTool(p, ToolSpec{Name: "count", Description: "Reports progress"}, func(ctx context.Context, cx *ToolContext, a struct {
		Steps int `json:"steps"`
	}) (map[string]any, error) {
		for i := 1; i <= a.Steps; i++ {
			cx.Progress(float64(i), float64(a.Steps), "step")
			cx.Progress(float64(i), 0, "") // not increasing: dropped
		}
		_, has := TimeRemaining(ctx)
		return map[string]any{"done": a.Steps, "has_deadline": has}, nil
	})
	AddTool(p, ToolSpec{Name: "wait", Description: "Waits until cancelled"}, func(ctx context.Context, _ *ToolContext, _ struct{}) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	p.AddCommand(Command{Name: "shout", Short: "Upper-cases stdin", Flags: []Flag{IntFlag("times", 1, "How many times")}, Args: []Arg{{Name: "words", Variadic: true}},
		Run: func(_ context.Context, cx *CommandContext) int {
			var b strings.Builder
			buf := make([]byte, 1024)
			for {
				n, err := cx.Stdin.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			_, _ = cx.Stdout.Write([]byte(strings.Repeat(strings.ToUpper(b.String()), cx.Int("times"))))
			_, _ = cx.Stderr.Write([]byte("args: " + strings.Join(cx.Args, " ") + "\n"))
			return 3
		}})
	p.AddHook(Hook{Pattern: "session.*", Intercept: true, Priority: 5, FailClosed: true, Handle: func(_ context.Context, e HookEvent) (Decision, error) {
		var payload map[string]any
		_ = json.Unmarshal(e.Payload, &payload)
		switch payload["user"] {
		case "mallory":
			return Deny("mallory may not start sessions"), nil
		case "ada":
			payload["admin"] = true
			return Modify(payload), nil
		}
		return Continue(), nil
	}})
	p.OnConfigure(func(config map[string]any) error {
		if v, ok := config["retries"]; ok {
			if _, isNumber := v.(float64); !isNumber {
				return &ConfigError{"/retries", "expected an integer, saw " + string(must(json.Marshal(v)))}
			}
		}
		return nil
	})
	return p
}

func must[T any](v T, _ error) T { return v }

func start3(t *testing.T, config map[string]any) *TestHost {
	t.Helper()
	h, err := StartTest(testPlugin(), config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSchemasComeFromStructTags(t *testing.T) {
	h := start3(t, map[string]any{})
	r, err := pb.NewToolServiceClient(h.Conn).ListTools(ctx10(t), &pb.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]*pb.Tool{}
	for _, tool := range r.Tools {
		tools[tool.Name] = tool
	}
	var schema map[string]any
	_ = json.Unmarshal([]byte(tools["greet"].InputSchemaJson), &schema)
	if got := schema["required"]; len(got.([]any)) != 1 || got.([]any)[0] != "name" {
		t.Errorf("required: %v", got)
	}
	if schema["additionalProperties"] != false {
		t.Errorf("additionalProperties: %v", schema["additionalProperties"])
	}
	if !tools["greet"].Annotations.ReadOnly || tools["add"].OutputSchemaJson == "" || tools["greet"].OutputSchemaJson != "" {
		t.Errorf("annotations or output schemas wrong: %v", tools)
	}
}

func TestCallsReturnJSONAndFailuresAreResults(t *testing.T) {
	h := start3(t, map[string]any{})
	cases := map[string][2]string{
		"greet":   {`{"name":"Ada","times":2}`, `"hello, Ada! hello, Ada! "`},
		"add":     {`{"x":2,"y":3}`, `{"sum":5}`},
		"literal": {`{"n":4}`, `8`},
	}
	for tool, c := range cases {
		r, err := h.CallTool(ctx10(t), tool, c[0])
		if err != nil || r.IsError || r.ContentJson != c[1] {
			t.Errorf("%s: %v %v", tool, r, err)
		}
	}
	r, err := h.CallTool(ctx10(t), "refuse", `{"path":"a.txt"}`)
	if err != nil || !r.IsError || r.ContentJson != `"no such file: a.txt"` {
		t.Errorf("refuse: %v %v", r, err)
	}
}

func TestBadArgumentsAreRefusedNamingTheField(t *testing.T) {
	h := start3(t, map[string]any{})
	cases := []struct{ tool, args, message string }{
		{"greet", `{}`, `arguments /name: "name" is a required property`},
		{"greet", `{"name":3}`, `arguments /name: `},
		{"greet", `{"name":"a","loud":true}`, `arguments /loud: unknown property "loud"`},
		{"greet", `[1]`, `arguments: expected a JSON object, saw [1]`},
		{"greet", `{`, `arguments: expected a JSON object, the text is not JSON`},
		{"literal", `{"n":-1}`, `arguments /n: `},
	}
	for _, c := range cases {
		_, err := h.CallTool(ctx10(t), c.tool, c.args)
		s, _ := status.FromError(err)
		if s.Code() != codes.InvalidArgument || !strings.HasPrefix(s.Message(), c.message) {
			t.Errorf("%s %s: %v", c.tool, c.args, err)
		}
	}
	_, err := h.CallTool(ctx10(t), "nope", `{}`)
	if s, _ := status.FromError(err); s.Code() != codes.NotFound || !strings.Contains(s.Message(), "greet") {
		t.Errorf("unknown tool: %v", err)
	}
}

func TestArgumentsTheHostMarkedValidatedSkipOnlyTheSchemaCheck(t *testing.T) {
	h := start3(t, map[string]any{})
	marked := func(value string) context.Context {
		return metadata.AppendToOutgoingContext(ctx10(t), "plugwire-arguments-validated", value)
	}
	// Against the schema (minimum 0), so only a skipped check lets it through.
	r, err := h.CallTool(marked("1"), "literal", `{"n":-1}`)
	if err != nil || r.ContentJson != "-2" {
		t.Errorf("marked: %v %v", r, err)
	}
	for _, c := range []struct{ value, tool, args, message string }{
		{"1", "literal", `[1]`, `arguments: expected a JSON object, saw [1]`},
		{"1", "literal", `{`, `arguments: expected a JSON object, the text is not JSON`},
		{"1", "greet", `{"name":3}`, `arguments: json: cannot unmarshal`},
		{"yes", "literal", `{"n":-1}`, `arguments /n: `},
	} {
		_, err := h.CallTool(marked(c.value), c.tool, c.args)
		s, _ := status.FromError(err)
		if s.Code() != codes.InvalidArgument || !strings.HasPrefix(s.Message(), c.message) {
			t.Errorf("mark %q, %s: %v", c.value, c.args, err)
		}
	}
}

func TestProgressStreamsAndDeadlinesCancel(t *testing.T) {
	h := start3(t, map[string]any{})
	stream, err := pb.NewToolServiceClient(h.Conn).CallToolStream(ctx10(t), &pb.CallToolStreamRequest{Name: "count", ArgumentsJson: `{"steps":3}`})
	if err != nil {
		t.Fatal(err)
	}
	var seen []float64
	var result *pb.ToolResult
	for {
		m, err := stream.Recv()
		if err != nil {
			break
		}
		if p := m.GetProgress(); p != nil {
			seen = append(seen, p.Progress)
		} else {
			result = m.GetResult()
		}
	}
	if len(seen) != 3 || seen[2] != 3 || result == nil || result.ContentJson != `{"done":3,"has_deadline":true}` {
		t.Errorf("progress %v, result %v", seen, result)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = h.CallTool(ctx, "wait", `{}`)
	if s, _ := status.FromError(err); s.Code() != codes.DeadlineExceeded {
		t.Errorf("wait: %v", err)
	}
}

func TestCommandsHooksAndHandshake(t *testing.T) {
	h := start3(t, map[string]any{})
	out, errOut, code, err := h.RunCommand(ctx10(t), "shout", map[string]any{"times": 2}, []string{"a", "b"}, "hi ")
	if err != nil || out != "HI HI " || errOut != "args: a b\n" || code != 3 {
		t.Errorf("shout: %q %q %d %v", out, errOut, code, err)
	}
	hooks := pb.NewHookServiceClient(h.Conn)
	emit := func(name, payload string) *pb.HandleEventResponse {
		r, err := hooks.HandleEvent(ctx10(t), &pb.HandleEventRequest{Event: &pb.Event{Name: name, PayloadJson: payload}, Mode: pb.HookMode_HOOK_MODE_INTERCEPT})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := emit("session.start", `{"user":"mallory"}`); r.Decision != pb.Decision_DECISION_DENY || r.Reason != "mallory may not start sessions" {
		t.Errorf("deny: %v", r)
	}
	if r := emit("session.start", `{"user":"ada"}`); r.Decision != pb.Decision_DECISION_MODIFY || !strings.Contains(r.PayloadJson, `"admin":true`) {
		t.Errorf("modify: %v", r)
	}
	if r := emit("other", `{"user":"mallory"}`); r.Decision != pb.Decision_DECISION_CONTINUE {
		t.Errorf("unsubscribed: %v", r)
	}
	hs := h.Handshake
	if hs.Plugin.Name != "sdk-test" || hs.Sdk.Name != "plugwire-go" || hs.Capabilities.Hooks[0].FailurePolicy != pb.FailurePolicy_FAILURE_POLICY_CLOSED {
		t.Errorf("handshake: %v", hs)
	}
}

func TestConfigurationAndItsOrder(t *testing.T) {
	_, err := StartTest(testPlugin(), map[string]any{"retries": "three"})
	if s, _ := status.FromError(err); s.Code() != codes.InvalidArgument || s.Message() != `config /retries: expected an integer, saw "three"` {
		t.Errorf("refusal: %v", err)
	}
	h, err := StartTest(testPlugin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_, err = h.CallTool(ctx10(t), "greet", `{"name":"a"}`)
	if s, _ := status.FromError(err); s.Code() != codes.FailedPrecondition {
		t.Errorf("before Configure: %v", err)
	}
	client := pb.NewPluginServiceClient(h.Conn)
	if _, err := client.Configure(ctx10(t), &pb.ConfigureRequest{ConfigJson: "{}"}); err != nil {
		t.Fatal(err)
	}
	_, err = client.Configure(ctx10(t), &pb.ConfigureRequest{ConfigJson: "{}"})
	if s, _ := status.FromError(err); s.Code() != codes.FailedPrecondition {
		t.Errorf("second Configure: %v", err)
	}
}

func TestBootstrap(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := readBootstrap(env(nil)); err == nil || !strings.Contains(err.Error(), "PLUGWIRE_PLUGIN") {
		t.Errorf("no cookie: %v", err)
	}
	if _, err := readBootstrap(env(map[string]string{cookieKey: cookieValue, "PLUGIN_PROTOCOL_VERSIONS": "7"})); err == nil || !strings.Contains(err.Error(), "no common protocol version") {
		t.Errorf("no version: %v", err)
	}
	b, err := readBootstrap(env(map[string]string{cookieKey: cookieValue, "PLUGIN_PROTOCOL_VERSIONS": "1,2", "PLUGIN_UNIX_SOCKET_DIR": "/run/p"}))
	if err != nil || b.line() != "1|1|unix|/run/p/plugin.sock|grpc|\n" {
		t.Errorf("line: %v %v", b, err)
	}
	b, err = readBootstrap(env(map[string]string{cookieKey: cookieValue, "PLUGIN_PROTOCOL_VERSIONS": "1"}))
	if err != nil || !strings.HasSuffix(b.socketPath, ".sock") {
		t.Errorf("no socket dir: %v %v", b, err)
	}
}

func TestWithoutTheHostServiceCallsSayWhy(t *testing.T) {
	if _, _, err := (&HostClient{}).Get(context.Background(), "k"); !errors.Is(err, ErrHostUnavailable) {
		t.Errorf("Get without a host: %v", err)
	}
}
