package plugwire

// A tool's arguments: a JSON Schema (inferred from the argument type's
// struct tags by github.com/google/jsonschema-go, or given literally),
// checked by github.com/santhosh-tekuri/jsonschema with errors that name
// the field as a JSON pointer (PW-TOOL-5).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	inferred "github.com/google/jsonschema-go/jsonschema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"google.golang.org/grpc/metadata"
)

var printer = message.NewPrinter(language.English)

// arguments describes and checks one tool's arguments.
type arguments struct {
	schema   json.RawMessage
	compiled *jsonschema.Schema
}

// argumentsFor infers the schema of T: each field is a property named by
// its `json` tag, required unless `omitempty` or `omitzero`, described by
// its `jsonschema` tag; unknown properties are refused.
func argumentsFor[T any]() (*arguments, error) {
	schema, err := inferred.For[T](nil)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	return compileArguments(raw)
}

// compileArguments checks that raw is a JSON Schema and compiles it.
func compileArguments(raw json.RawMessage) (*arguments, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("the schema is not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("arguments.json", doc); err != nil {
		return nil, err
	}
	compiled, err := c.Compile("arguments.json")
	if err != nil {
		return nil, fmt.Errorf("not a valid JSON Schema: %w", err)
	}
	return &arguments{schema: raw, compiled: compiled}, nil
}

// check returns the first problem with text as a pointer and a message, or
// empty strings when the arguments are valid.
func (a *arguments) check(text string) (pointer, problem string) {
	value, problem := jsonObject(text)
	if problem != "" {
		return "", problem
	}
	err := a.compiled.Validate(value)
	if err == nil {
		return "", ""
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return "", err.Error()
	}
	for len(verr.Causes) > 0 {
		verr = verr.Causes[0]
	}
	at := jsonPointer(verr.InstanceLocation)
	switch k := verr.ErrorKind.(type) {
	case *kind.Required:
		return at + "/" + escape(k.Missing[0]), fmt.Sprintf("%q is a required property", k.Missing[0])
	case *kind.AdditionalProperties:
		return at + "/" + escape(k.Properties[0]), fmt.Sprintf("unknown property %q", k.Properties[0])
	}
	return at, verr.ErrorKind.LocalizedString(printer)
}

// argumentsValidatedKey is PW-TOOL-16's mark: the host checked a call's
// arguments against the schema this plugin listed.
const argumentsValidatedKey = "plugwire-arguments-validated"

// argumentsValidated reports whether the call carries PW-TOOL-16's mark.
func argumentsValidated(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return false
	}
	marks := md.Get(argumentsValidatedKey)
	return len(marks) == 1 && marks[0] == "1"
}

// isObject is the check left for arguments the host has validated: one
// JSON object, as check reports it.
func isObject(text string) (pointer, problem string) {
	_, problem = jsonObject(text)
	return "", problem
}

// jsonObject decodes arguments as PW-TOOL-5 and PW-TOOL-15 read them (empty
// text is {}): the object, or the problem.
func jsonObject(text string) (value any, problem string) {
	if strings.TrimSpace(text) == "" {
		text = "{}"
	}
	value, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, "expected a JSON object, the text is not JSON: " + err.Error()
	}
	if _, ok := value.(map[string]any); !ok {
		return nil, "expected a JSON object, saw " + short(text)
	}
	return value, ""
}

// located is PW-TOOL-5's form: "arguments /x: problem", or
// "arguments: problem" for the whole document.
func located(what, pointer, problem string) string {
	if pointer == "" {
		return what + ": " + problem
	}
	return what + " " + pointer + ": " + problem
}

func jsonPointer(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteString("/" + escape(p))
	}
	return b.String()
}

func escape(token string) string {
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}

func short(text string) string {
	text = strings.TrimSpace(text)
	if len(text) <= 80 {
		return text
	}
	return text[:77] + "..."
}
