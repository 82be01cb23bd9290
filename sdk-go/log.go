package plugwire

// Logs the host understands (PW-LOG-2): one hclog-style JSON object per
// line on stderr, with the fields attached.

import (
	"encoding/json"
	"io"
	"os"
	"sync"
	"time"
)

// Logger writes hclog lines; Log is the plugin's, on stderr.
type Logger struct {
	mu  sync.Mutex
	out io.Writer
}

// Log is the plugin's logger: Log.Info("saved", "key", k) becomes a
// structured record in the host's log, with the field.
var Log = &Logger{out: os.Stderr}

func (l *Logger) write(level, message string, kv []any) {
	line := map[string]any{"@level": level, "@message": message, "@timestamp": time.Now().UTC().Format(time.RFC3339Nano)}
	for i := 0; i+1 < len(kv); i += 2 {
		if key, ok := kv[i].(string); ok {
			line[key] = kv[i+1]
		}
	}
	text, err := json.Marshal(line)
	if err != nil {
		text, _ = json.Marshal(map[string]any{"@level": level, "@message": message})
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.out.Write(append(text, '\n'))
}

// Debug logs at debug; kv are alternating keys and values.
func (l *Logger) Debug(message string, kv ...any) { l.write("debug", message, kv) }

// Info logs at info.
func (l *Logger) Info(message string, kv ...any) { l.write("info", message, kv) }

// Warn logs at warn.
func (l *Logger) Warn(message string, kv ...any) { l.write("warn", message, kv) }

// Error logs at error.
func (l *Logger) Error(message string, kv ...any) { l.write("error", message, kv) }
