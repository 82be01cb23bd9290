// The host's callback service (docs/protocol.md section 13): storage,
// events and other plugins' tools, each gated by a permission the user
// granted.

import * as grpc from "@grpc/grpc-js";
import { HostServiceClient } from "./gen/plugwire/v1/host";

/** PW-DL-3: the plugin's own calls carry deadlines. */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const CALL_CHAIN = "plugwire-call-chain";

/** The host offers no callback service to this plugin. */
export class HostUnavailable extends Error {}

/** Another tool's result. */
export interface ToolOutcome {
  content: unknown;
  isError: boolean;
}

/** What became of an emitted event. */
export interface EmitOutcome {
  id: string;
  denied: boolean;
  reason: string;
  payload: unknown;
}

/** Calls into the host; reached as `cx.host` in a tool. Errors are grpc-js
 * `ServiceError`s (`PERMISSION_DENIED` names the permission the manifest
 * must request). */
export class HostClient {
  constructor(
    private readonly client: HostServiceClient | undefined,
    private readonly chain?: string,
    /** The application's own gRPC services this plugin may call on the host
     * channel (`HandshakeRequest.host_services`, each granted as
     * `host.service:<name>`). */
    readonly services: readonly string[] = [],
  ) {}

  /** @internal The same connection, carrying one call's chain. */
  forCall(chain: string | undefined): HostClient {
    return new HostClient(this.client, chain, this.services);
  }

  /** The host channel itself, for clients of the application's services.
   * The host answers `PERMISSION_DENIED` for a service not in `services`. */
  get channel(): grpc.Channel {
    if (!this.client) {
      throw new HostUnavailable(
        "the host offers no HostService to this plugin: it did not list the `host.service` feature, or PLUGWIRE_HOST_SOCKET is not set",
      );
    }
    return this.client.getChannel() as grpc.Channel;
  }

  /** A client of the application's service `name` on the host channel, from
   * its generated grpc-js client class, e.g.
   * `cx.host.service("acme.session.v1.Sessions", SessionsClient)`. Throws
   * when the handshake did not offer it. */
  service<C>(
    name: string,
    Client: new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => C,
  ): C {
    if (!this.services.includes(name)) {
      throw new HostUnavailable(
        `the host does not offer ${JSON.stringify(name)} to this plugin (it offers ${JSON.stringify(this.services)}); request "host.service:${name}" in permissions.host of plugin.toml and have it granted`,
      );
    }
    return new Client("unix:host", grpc.credentials.createInsecure(), { channelOverride: this.channel });
  }

  private call<Req, Res>(method: string, request: Req, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Res> {
    const client = this.client;
    if (!client) {
      return Promise.reject(
        new HostUnavailable(
          "the host offers no HostService to this plugin: it did not list the `host.service` feature, or PLUGWIRE_HOST_SOCKET is not set",
        ),
      );
    }
    const metadata = new grpc.Metadata();
    if (this.chain) metadata.set(CALL_CHAIN, this.chain);
    return new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, Function>)[method].bind(client);
      fn(request, metadata, { deadline: Date.now() + timeoutMs }, (error: grpc.ServiceError | null, response: Res) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  /** The stored value of `key` (permission `host.storage`). */
  async get(key: string): Promise<Buffer | undefined> {
    const r = await this.call<object, { found: boolean; value: Buffer }>("getValue", { key });
    return r.found ? Buffer.from(r.value) : undefined;
  }

  /** Stores `value` under `key`, durably (permission `host.storage`). */
  async put(key: string, value: string | Uint8Array): Promise<void> {
    await this.call("putValue", { key, value: typeof value === "string" ? Buffer.from(value) : Buffer.from(value) });
  }

  /** Removes `key`; whether it existed (permission `host.storage`). */
  async delete(key: string): Promise<boolean> {
    const r = await this.call<object, { existed: boolean }>("deleteValue", { key });
    return r.existed;
  }

  /** Every stored key starting with `prefix`, in order (permission `host.storage`). */
  async keys(prefix = ""): Promise<string[]> {
    const keys: string[] = [];
    let startAfter = "";
    for (;;) {
      const r = await this.call<object, { keys: string[]; more: boolean }>("listKeys", { prefix, limit: 0, startAfter });
      keys.push(...r.keys);
      if (!r.more || r.keys.length === 0) return keys;
      startAfter = r.keys[r.keys.length - 1];
    }
  }

  /** Emits an event to the hooks that subscribe to it (permission `host.events.emit`). */
  async emit(name: string, payload: unknown = null): Promise<EmitOutcome> {
    const r = await this.call<object, { id: string; denied: boolean; denyReason: string; finalPayloadJson: string }>(
      "emitEvent",
      { name, payloadJson: JSON.stringify(payload) },
    );
    return { id: r.id, denied: r.denied, reason: r.denyReason, payload: r.finalPayloadJson ? JSON.parse(r.finalPayloadJson) : null };
  }

  /** Calls another plugin's tool, `plugin.tool` or a bare name (permission `host.tools.call`). */
  async callTool(tool: string, args: unknown = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ToolOutcome> {
    const r = await this.call<object, { result?: { isError: boolean; contentJson: string } }>(
      "callPluginTool",
      { tool, argumentsJson: JSON.stringify(args) },
      timeoutMs,
    );
    return { content: r.result?.contentJson ? JSON.parse(r.result.contentJson) : null, isError: r.result?.isError ?? false };
  }
}

/** A client on the host's socket, dialled with `:authority` `localhost` (PW-HOST-1). */
export function hostClient(socket: string | undefined, offered: boolean, services: readonly string[] = []): HostClient {
  if (!socket || !offered) return new HostClient(undefined);
  return new HostClient(
    new HostServiceClient(`unix:${socket}`, grpc.credentials.createInsecure(), { "grpc.default_authority": "localhost" }),
    undefined,
    services,
  );
}
