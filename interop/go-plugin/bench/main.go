// Command go-plugin-bench is the go-plugin baseline of plugwire's
// benchmark (host/benches/plugwire.rs runs it): a host written on
// HashiCorp go-plugin as an application that uses it would write one,
// driving the echo plugin of ./echoplugin through the same work as
// plugwire's rows. It prints one JSON document on stdout:
//
//	{"rows": [{"name": "...", "samples_us": [...]} | {"name": "...", "per_s": N}]}
//
//	go-plugin-bench -plugin PATH [-starts 40] [-calls 20000] [-window 3s] [-many 100]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"plugwire.dev/interop/go-plugin/bench/echo"
)

// Row is one measure: samples in microseconds, or calls per second.
type Row struct {
	Name      string    `json:"name"`
	SamplesUs []float64 `json:"samples_us,omitempty"`
	PerS      float64   `json:"per_s,omitempty"`
}

// started is one plugin process, dialled and dispensed.
type started struct {
	client *plugin.Client
	echo   echo.Client
}

// quiet is the logger an application would pass: errors only, discarded
// here, so go-plugin's trace logging costs nothing in the measure.
var quiet = hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: io.Discard})

func start(exe string) (started, error) {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  echo.Handshake,
		Plugins:          plugin.PluginSet{"echo": echo.Plugin{}},
		Cmd:              exec.Command(exe),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           quiet,
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return started{}, fmt.Errorf("cannot start %s: %w", exe, err)
	}
	raw, err := rpc.Dispense("echo")
	if err != nil {
		client.Kill()
		return started{}, fmt.Errorf("cannot dispense echo: %w", err)
	}
	return started{client: client, echo: raw.(echo.Client)}, nil
}

// coldStart is spawn → handshake line → dial → dispense → first call.
func coldStart(exe string, payload []byte) (time.Duration, error) {
	t := time.Now()
	s, err := start(exe)
	if err != nil {
		return 0, err
	}
	_, err = s.echo.Echo(context.Background(), payload)
	elapsed := time.Since(t)
	s.client.Kill()
	return elapsed, err
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func sequential(e echo.Client, payload []byte, n int) ([]float64, error) {
	samples := make([]float64, 0, n)
	for i := 0; i < n+200; i++ {
		t := time.Now()
		if _, err := e.Echo(context.Background(), payload); err != nil {
			return nil, err
		}
		if i >= 200 {
			samples = append(samples, micros(time.Since(t)))
		}
	}
	return samples, nil
}

// throughput is calls per second with inflight concurrent callers, each
// calling until the window ends, as plugwire's bench does.
func throughput(e echo.Client, payload []byte, inflight int, window time.Duration) float64 {
	deadline := time.Now().Add(window)
	var total atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < inflight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for time.Now().Before(deadline) {
				if _, err := e.Echo(context.Background(), payload); err != nil {
					fmt.Fprintln(os.Stderr, "call failed:", err)
					os.Exit(1)
				}
				n++
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	return float64(total.Load()) / window.Seconds()
}

// rssKiB reads VmRSS from /proc/PID/status.
func rssKiB(pid int) (float64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// many starts n plugins at once and returns when every one has answered
// its first call.
func many(exe string, payload []byte, n int) (time.Duration, error) {
	t := time.Now()
	all := make([]started, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := start(exe)
			if err == nil {
				_, err = s.echo.Echo(context.Background(), payload)
			}
			all[i], errs[i] = s, err
		}()
	}
	wg.Wait()
	elapsed := time.Since(t)
	for i, s := range all {
		if s.client != nil {
			s.client.Kill()
		}
		if errs[i] != nil {
			return 0, errs[i]
		}
	}
	return elapsed, nil
}

func run() error {
	exe := flag.String("plugin", "", "the go-plugin echo plugin (built from ./echoplugin)")
	starts := flag.Int("starts", 40, "cold starts to measure")
	calls := flag.Int("calls", 20000, "sequential calls to measure")
	window := flag.Duration("window", 3*time.Second, "how long each throughput row runs")
	count := flag.Int("many", 100, "plugins started at once")
	flag.Parse()
	if *exe == "" {
		return fmt.Errorf("-plugin PATH is required: the binary built from ./echoplugin")
	}
	payload := make([]byte, 16)
	var rows []Row

	var cold []float64
	for i := 0; i < *starts+3; i++ {
		d, err := coldStart(*exe, payload)
		if err != nil {
			return err
		}
		if i >= 3 {
			cold = append(cold, micros(d))
		}
	}
	rows = append(rows, Row{Name: "cold start to the first call", SamplesUs: cold})

	s, err := start(*exe)
	if err != nil {
		return err
	}
	defer s.client.Kill()
	// Idle as plugwire's row is: started, one call answered.
	if _, err := s.echo.Echo(context.Background(), payload); err != nil {
		return err
	}
	rss, err := rssKiB(s.client.ReattachConfig().Pid)
	if err != nil {
		return err
	}
	seq, err := sequential(s.echo, payload, *calls)
	if err != nil {
		return err
	}
	rows = append(rows, Row{Name: "sequential unary, 16 B", SamplesUs: seq})
	for _, inflight := range []int{16, 64} {
		rows = append(rows, Row{
			Name: fmt.Sprintf("%d in flight", inflight),
			PerS: throughput(s.echo, payload, inflight, *window),
		})
	}
	rows = append(rows, Row{Name: "plugin idle RSS (KiB)", SamplesUs: []float64{rss}})
	s.client.Kill()

	d, err := many(*exe, payload, *count)
	if err != nil {
		return err
	}
	rows = append(rows, Row{Name: fmt.Sprintf("%d plugins at once until all answered", *count), SamplesUs: []float64{micros(d)}})
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"rows": rows})
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-plugin-bench:", err)
		os.Exit(1)
	}
}
