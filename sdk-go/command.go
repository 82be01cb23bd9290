package plugwire

// Commands: CLI subcommands the host offers as its own, with typed flags,
// positional arguments, streamed stdio and an exit code (docs/protocol.md
// section 6).

import (
	"context"
	"encoding/json"
	"io"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

// chunk is PW-CMD-6's bound on each stdout or stderr message.
const chunk = 64 << 10

// Flag declares a flag; the host parses and checks it.
type Flag struct {
	Name        string
	Short       string
	Type        pb.FlagType
	Description string
	// Default is the flag's default value (nil for none).
	Default  any
	Required bool
}

// BoolFlag is --name (true when given).
func BoolFlag(name, description string) Flag {
	return Flag{Name: name, Type: pb.FlagType_FLAG_TYPE_BOOL, Description: description, Default: false}
}

// StringFlag is --name VALUE.
func StringFlag(name, value, description string) Flag {
	return Flag{Name: name, Type: pb.FlagType_FLAG_TYPE_STRING, Description: description, Default: value}
}

// IntFlag is --name N.
func IntFlag(name string, value int, description string) Flag {
	return Flag{Name: name, Type: pb.FlagType_FLAG_TYPE_INT, Description: description, Default: value}
}

// Arg declares a positional argument; only the last may be Variadic.
type Arg struct {
	Name        string
	Description string
	Required    bool
	Variadic    bool
}

// Command declares a command; Run returns its exit code.
type Command struct {
	Name    string
	Parent  string
	Short   string
	Long    string
	Usage   string
	Aliases []string
	Flags   []Flag
	Args    []Arg
	Run     func(ctx context.Context, cx *CommandContext) int
}

func (c *Command) fullName() string {
	if c.Parent == "" {
		return c.Name
	}
	return c.Parent + " " + c.Name
}

func (c *Command) declaration() *pb.Command {
	d := &pb.Command{Name: c.Name, Parent: c.Parent, Usage: c.Usage, Short: c.Short, Long: c.Long, Aliases: c.Aliases}
	for _, f := range c.Flags {
		def := ""
		if f.Default != nil {
			raw, _ := json.Marshal(f.Default)
			def = string(raw)
		}
		d.Flags = append(d.Flags, &pb.Flag{Name: f.Name, Short: f.Short, Type: f.Type, Description: f.Description, DefaultJson: def, Required: f.Required})
	}
	for _, a := range c.Args {
		d.Args = append(d.Args, &pb.Arg{Name: a.Name, Description: a.Description, Required: a.Required, Variadic: a.Variadic})
	}
	return d
}

// CommandContext is one run of a command: its flags and arguments, its
// stdio, the environment the host passed. ctx is cancelled when the host
// forwards Ctrl-C or SIGTERM, or cancels the run (PW-CMD-8).
type CommandContext struct {
	Command string
	// Flags holds every flag given or defaulted, by long name, as JSON
	// values (float64 for numbers); use the typed getters.
	Flags  map[string]any
	Args   []string
	Env    map[string]string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Config map[string]any
}

// Int is an int flag's value.
func (cx *CommandContext) Int(name string) int {
	v, _ := cx.Flags[name].(float64)
	return int(v)
}

// Bool is a bool flag's value.
func (cx *CommandContext) Bool(name string) bool {
	v, _ := cx.Flags[name].(bool)
	return v
}

// String is a string flag's value.
func (cx *CommandContext) String(name string) string {
	v, _ := cx.Flags[name].(string)
	return v
}

// streamWriter sends what is written as stdout or stderr chunks.
type streamWriter struct {
	send func([]byte) error
}

func (w streamWriter) Write(b []byte) (int, error) {
	for i := 0; i < len(b); i += chunk {
		part := append([]byte(nil), b[i:min(i+chunk, len(b))]...)
		if err := w.send(part); err != nil {
			return i, err
		}
	}
	return len(b), nil
}
