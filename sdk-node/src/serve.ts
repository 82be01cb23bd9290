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
import { type AutoMtls, TlsFront, addGoPluginServices, autoMtls } from "./goplugin";
import { DEFAULT_GRACE_MS, State, commandService, hookService, pluginService, toolService } from "./services";

/** PW-SHUT-2: the grace after SIGTERM. */
export const SIGTERM_GRACE_MS = 2000;

/** A started server: `stop(graceMs)` once; `stopped` resolves at the end. */
export class Running {
  readonly server: grpc.Server;
  readonly state: State;
  readonly stopped: Promise<void>;
  private readonly health = new HealthImplementation({ plugin: "NOT_SERVING" });
  private readonly stopping: Promise<void>;
  private resolveStopping!: () => void;
  private isStopping = false;
  private resolveStopped!: () => void;
  private readonly tls: TlsFront | undefined;

  constructor(
    plugin: Declarations,
    readonly socketPath: string,
    version: number,
    hostSocket: string | undefined,
    mtls?: AutoMtls,
  ) {
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.stopping = new Promise((resolve) => (this.resolveStopping = resolve));
    this.server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE, "grpc.max_send_message_length": MAX_MESSAGE });
    this.state = new State(plugin, version, hostSocket, (grace) => this.stop(grace));
    this.health.addToServer(this.server);
    this.server.addService(PluginServiceService, pluginService(this.state));
    if (plugin.tools.size) this.server.addService(ToolServiceService, toolService(this.state));
    if (plugin.commands.size) this.server.addService(CommandServiceService, commandService(this.state));
    if (plugin.hooks.length) this.server.addService(HookServiceService, hookService(this.state));
    for (const p of plugin.providers) this.server.addService(p.definition, p.implementation);
    addGoPluginServices(this.server, () => this.stop(DEFAULT_GRACE_MS), this.stopping);
    // Under AutoMTLS the socket is the TLS front's, and gRPC listens
    // behind it.
    this.tls = mtls && new TlsFront(mtls);
  }

  async start(): Promise<void> {
    const grpcPath = this.tls?.innerPath ?? this.socketPath;
    await new Promise<void>((resolve, reject) =>
      this.server.bindAsync(`unix:${grpcPath}`, grpc.ServerCredentials.createInsecure(), (error) =>
        error ? reject(new BootstrapError(`cannot bind ${grpcPath}: ${error.message}`)) : resolve(),
      ),
    );
    await this.tls?.listen(this.socketPath);
    this.health.setStatus("plugin", "SERVING");
  }

  stop(graceMs: number): void {
    if (this.isStopping) return;
    this.isStopping = true;
    this.resolveStopping();
    // PW-HEALTH-2, PW-SHUT-1: refuse new work, drain for the grace, then
    // cancel what is left.
    this.health.setStatus("plugin", "NOT_SERVING");
    const force = setTimeout(() => this.server.forceShutdown(), graceMs);
    // Let the answer to Shutdown go out before the server stops accepting.
    setImmediate(() =>
      this.server.tryShutdown(() => {
        clearTimeout(force);
        this.tls?.close();
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
  start(plugin).catch(fail);
}

async function start(plugin: Declarations): Promise<void> {
  const boot = readBootstrap(process.env);
  const mtls = await autoMtls(process.env);
  boot.serverCert = mtls?.serverCert;
  const running = new Running(plugin, boot.socketPath, boot.version, boot.hostSocket, mtls);
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.on(signal, () => running.stop(SIGTERM_GRACE_MS));
  }
  void running.stopped.then(() => process.exit(0));
  await running.start();
  // PW-BOOT-2: one line, flushed, once serving.
  process.stdout.write(bootstrapLine(boot));
}
