package plugwire

// A plugin: what it declares (tools, commands, hooks, providers) and how
// it is configured. Serving it is serve.go's job.

import (
	"fmt"
	"regexp"

	"google.golang.org/grpc"
)

var (
	namePattern     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)
	toolNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// ConfigError is a configuration the plugin refuses (PW-CFG-2): Pointer
// names the field, Problem says what was expected and seen.
type ConfigError struct {
	Pointer, Problem string
}

func (e *ConfigError) Error() string { return located("config", e.Pointer, e.Problem) }

type provider struct {
	service, name string
	register      func(grpc.ServiceRegistrar)
}

// Plugin declares a plugin. Declarations panic on a mistake the plugin's
// author must fix (a bad name, a duplicate): they run at start, once.
type Plugin struct {
	Name, Version, Description string

	tools     []*tool
	commands  []*Command
	hooks     []*Hook
	providers []provider
	features  []string
	configure []func(map[string]any) error
}

// New declares a plugin; name is the manifest's.
func New(name, version, description string) *Plugin {
	if !namePattern.MatchString(name) {
		panic(fmt.Sprintf("plugin name %q: expected lower-case letters, digits and '-', starting with a letter, at most 64 (the manifest's name)", name))
	}
	return &Plugin{Name: name, Version: version, Description: description}
}

func (p *Plugin) addTool(t *tool) {
	if !toolNamePattern.MatchString(t.spec.Name) {
		panic(fmt.Sprintf("tool name %q: expected 1 to 64 of A-Z a-z 0-9 _ -", t.spec.Name))
	}
	for _, other := range p.tools {
		if other.spec.Name == t.spec.Name {
			panic(fmt.Sprintf("tool %q is declared twice", t.spec.Name))
		}
	}
	p.tools = append(p.tools, t)
}

// AddCommand adds a command.
func (p *Plugin) AddCommand(c Command) *Plugin {
	for _, word := range append([]string{c.Name}, c.Aliases...) {
		if !namePattern.MatchString(word) {
			panic(fmt.Sprintf("command name %q: expected lower-case letters, digits and '-'", word))
		}
	}
	if c.Parent != "" && p.command(c.Parent) == nil {
		panic(fmt.Sprintf("command %q: its parent %q must be declared first", c.Name, c.Parent))
	}
	if p.command(c.fullName()) != nil {
		panic(fmt.Sprintf("command %q is declared twice", c.fullName()))
	}
	p.commands = append(p.commands, &c)
	return p
}

func (p *Plugin) command(fullName string) *Command {
	for _, c := range p.commands {
		if c.fullName() == fullName {
			return c
		}
	}
	return nil
}

// AddHook subscribes to events.
func (p *Plugin) AddHook(h Hook) *Plugin {
	p.hooks = append(p.hooks, &h)
	return p
}

// AddProvider serves an application-defined gRPC service: register adds
// it to the plugin's server (for example
// `func(s grpc.ServiceRegistrar) { kvpb.RegisterKeyValueServer(s, kv) }`).
func (p *Plugin) AddProvider(service, name string, register func(grpc.ServiceRegistrar)) *Plugin {
	p.providers = append(p.providers, provider{service, name, register})
	return p
}

// OnConfigure runs fn(config) at Configure; return a *ConfigError to refuse.
func (p *Plugin) OnConfigure(fn func(config map[string]any) error) *Plugin {
	p.configure = append(p.configure, fn)
	return p
}

// Feature lists an optional protocol feature (for example "conformance").
func (p *Plugin) Feature(name string) *Plugin {
	p.features = append(p.features, name)
	return p
}
