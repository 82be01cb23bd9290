package plugwire

// The process side of the bootstrap (docs/protocol.md section 2): the
// cookie, the version, the socket path and the bootstrap line. It only
// reads the environment it is given, so it can be tested alone.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	cookieKey   = "PLUGWIRE_PLUGIN"
	cookieValue = "5d3c1f0e-plugwire"
	// SocketFileName is the plugin's socket in its runtime directory.
	SocketFileName = "plugin.sock"
	// MaxMessage is PW-BOOT-13's bound on messages in both directions.
	MaxMessage = 16 << 20
)

var supportedVersions = []int{1}

// bootstrap is what the environment told the plugin.
type bootstrap struct {
	version    int
	socketPath string
	hostSocket string
	// serverCert is the sixth field under go-plugin's AutoMTLS (PW-GP-3).
	serverCert string
	// multiplex: the client asked about go-plugin's multiplexed broker,
	// so the seventh field says this plugin has none (PW-GP-4).
	multiplex bool
}

// line is PW-BOOT-2's one line, printed on stdout once serving.
func (b bootstrap) line() string {
	line := fmt.Sprintf("1|%d|unix|%s|grpc|%s", b.version, b.socketPath, b.serverCert)
	if b.multiplex {
		line += "|false"
	}
	return line + "\n"
}

// readBootstrap checks the cookie (PW-BOOT-1), picks the highest common
// version (PW-BOOT-3) and chooses the socket path.
func readBootstrap(getenv func(string) string) (bootstrap, error) {
	if getenv(cookieKey) != cookieValue {
		return bootstrap{}, fmt.Errorf("this is a plugwire plugin; it is started by a plugwire host, not by hand (the %s cookie is missing). Try `plugwire check DIR`", cookieKey)
	}
	raw := getenv("PLUGIN_PROTOCOL_VERSIONS")
	best := 0
	for _, field := range strings.Split(raw, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			continue
		}
		for _, s := range supportedVersions {
			if v == s && v > best {
				best = v
			}
		}
	}
	if best == 0 {
		return bootstrap{}, fmt.Errorf("no common protocol version: the host offered %q, this plugin speaks %v; upgrade whichever is older", raw, supportedVersions)
	}
	dir := getenv("PLUGIN_UNIX_SOCKET_DIR")
	var socket string
	switch {
	case dir == "":
		// go-plugin's servers fall back to the temporary directory, and so
		// does this, with a name of its own there.
		socket = filepath.Join(os.TempDir(), fmt.Sprintf("plugwire-%d.sock", os.Getpid()))
	case !filepath.IsAbs(dir):
		return bootstrap{}, fmt.Errorf("PLUGIN_UNIX_SOCKET_DIR must be an absolute directory, saw %q", dir)
	default:
		socket = filepath.Join(dir, SocketFileName)
	}
	return bootstrap{version: best, socketPath: socket, hostSocket: getenv("PLUGWIRE_HOST_SOCKET")}, nil
}
