// The protocol's process side (docs/protocol.md sections 2, 3 and 9) for
// @grpc/grpc-js: check the cookie, choose the version, bind the socket,
// print the bootstrap line, serve health, and shut down on Shutdown or
// SIGTERM with the socket removed. A plugin supplies its services; see
// echo.ts.

import * as fs from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";

const COOKIE_KEY = "PLUGWIRE_PLUGIN";
const COOKIE_VALUE = "5d3c1f0e-plugwire";
const SUPPORTED_VERSIONS = [1];
const MAX_MESSAGE = 16 * 1024 * 1024;
const SIGTERM_GRACE_MS = 2000;

/** PW-BOOT-1/3: explain on stderr, print nothing on stdout, exit 1. */
function fail(message: string): never {
  process.stderr.write(`echo-node: ${message}\n`);
  process.exit(1);
}

/** PW-BOOT-3: the highest offered version this plugin speaks. */
function chooseVersion(): number {
  if (process.env[COOKIE_KEY] !== COOKIE_VALUE) {
    fail(
      "this is a plugwire plugin; it is started by a plugwire host, not by hand " +
        "(the PLUGWIRE_PLUGIN cookie is missing)",
    );
  }
  const raw = process.env.PLUGIN_PROTOCOL_VERSIONS ?? "";
  const offered = raw
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "")
    .map((v) => (/^[0-9]+$/.test(v) ? Number(v) : NaN));
  const common = offered.filter((v) => SUPPORTED_VERSIONS.includes(v));
  if (offered.some(Number.isNaN) || common.length === 0) {
    fail(
      `no common protocol version: the host offered "${raw}", ` +
        `this plugin speaks ${SUPPORTED_VERSIONS.join(",")}`,
    );
  }
  return Math.max(...common);
}

/** Stops the server once, by Shutdown or by signal. */
export class Lifecycle {
  private stopping = false;

  constructor(
    private readonly server: grpc.Server,
    private readonly health: HealthImplementation,
    private readonly socketPath: string,
  ) {}

  stop(graceMs: number): void {
    if (this.stopping) return;
    this.stopping = true;
    // PW-HEALTH-2, PW-SHUT-1: refuse new work, drain for the grace, then
    // cancel what is left.
    this.health.setStatus("plugin", "NOT_SERVING");
    const force = setTimeout(() => this.server.forceShutdown(), graceMs);
    // Let the answer to Shutdown go out before the server stops accepting.
    setImmediate(() =>
      this.server.tryShutdown(() => {
        clearTimeout(force);
        this.exit();
      }),
    );
  }

  private exit(): void {
    // PW-SHUT-3: the socket goes before the process does.
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
    process.exit(0);
  }
}

/** Runs a plugin: `addServices` registers its services before it starts. */
export function serve(
  addServices: (server: grpc.Server, lifecycle: Lifecycle, version: number) => void,
): void {
  const version = chooseVersion();
  const dir = process.env.PLUGIN_UNIX_SOCKET_DIR ?? "";
  if (!path.isAbsolute(dir) || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    fail("PLUGIN_UNIX_SOCKET_DIR must name an existing absolute directory");
  }
  const socketPath = path.join(dir, "plugin.sock");
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE,
    "grpc.max_send_message_length": MAX_MESSAGE,
  });
  const health = new HealthImplementation({ plugin: "NOT_SERVING" });
  health.addToServer(server);
  const lifecycle = new Lifecycle(server, health, socketPath);
  addServices(server, lifecycle, version);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => lifecycle.stop(SIGTERM_GRACE_MS));
  }
  server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
    if (error) fail(`cannot bind ${socketPath}: ${error.message}`);
    health.setStatus("plugin", "SERVING");
    // PW-BOOT-2: one line, flushed, once serving.
    process.stdout.write(`1|${version}|unix|${socketPath}|grpc|\n`);
  });
}
