// Serving a plugin: bind the socket, register the services and health,
// print the bootstrap line, and stop once on Shutdown or a signal with the
// socket removed (docs/protocol.md sections 2, 3 and 9).

import * as fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { BootstrapError, MAX_MESSAGE, bootstrapLine, readBootstrap } from "./bootstrap";
import { CommandServiceService } from "./gen/plugwire/v1/command";
import { HookServiceService } from "./gen/plugwire/v1/hook";
import { PluginServiceService } from "./gen/plugwire/v1/plugin";
import { ToolServiceService } from "./gen/plugwire/v1/tool";
import type { Declarations } from "./declarations";
import { State, commandService, hookService, pluginService, toolService } from "./services";

/** PW-SHUT-2: the grace after SIGTERM. */
export const SIGTERM_GRACE_MS = 2000;

/** A started server: `stop(graceMs)` once; `stopped` resolves at the end. */
export class Running {
  readonly server: grpc.Server;
  readonly state: State;
  readonly stopped: Promise<void>;
  private readonly health = new HealthImplementation({ plugin: "NOT_SERVING" });
  private stopping = false;
  private resolveStopped!: () => void;

  constructor(
    plugin: Declarations,
    readonly socketPath: string,
    version: number,
    hostSocket: string | undefined,
  ) {
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE, "grpc.max_send_message_length": MAX_MESSAGE });
    this.state = new State(plugin, version, hostSocket, (grace) => this.stop(grace));
    this.health.addToServer(this.server);
    this.server.addService(PluginServiceService, pluginService(this.state));
    if (plugin.tools.size) this.server.addService(ToolServiceService, toolService(this.state));
    if (plugin.commands.size) this.server.addService(CommandServiceService, commandService(this.state));
    if (plugin.hooks.length) this.server.addService(HookServiceService, hookService(this.state));
    for (const p of plugin.providers) this.server.addService(p.definition, p.implementation);
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync(`unix:${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
        if (error) return reject(new BootstrapError(`cannot bind ${this.socketPath}: ${error.message}`));
        this.health.setStatus("plugin", "SERVING");
        resolve();
      }),
    );
  }

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
        // PW-SHUT-3: the socket goes before the process does.
        fs.rmSync(this.socketPath, { force: true });
        this.resolveStopped();
      }),
    );
  }
}

/** Runs `plugin` until the host stops it; exits 1 with the reason on stderr
 * when it was not started by a host. */
export function serve(plugin: Declarations): void {
  const fail = (e: Error): never => {
    process.stderr.write(`${plugin.name}: ${e.message}\n`);
    process.exit(1);
  };
  let boot;
  try {
    boot = readBootstrap(process.env);
  } catch (e) {
    fail(e as Error);
    return;
  }
  const running = new Running(plugin, boot.socketPath, boot.version, boot.hostSocket);
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.on(signal, () => running.stop(SIGTERM_GRACE_MS));
  }
  running.start().then(() => {
    // PW-BOOT-2: one line, flushed, once serving.
    process.stdout.write(bootstrapLine(boot));
  }, fail);
  running.stopped.then(() => process.exit(0));
}
