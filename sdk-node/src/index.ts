// Write plugwire plugins in TypeScript or JavaScript.
//
// The SDK does everything docs/protocol.md asks of a plugin (the cookie,
// version negotiation, the socket, the bootstrap line, health, handshake,
// configuration, shutdown, logs the host understands); you declare tools,
// commands, hooks and providers. See README.md.

export { z } from "zod";
export type { ArgSpec, CommandContext, FlagSpec, Flags } from "./command";
export { Output, Stdin } from "./command";
export { ConfigError } from "./errors";
export type { HookContext, HookEvent } from "./hook";
export { Decision } from "./hook";
export type { EmitOutcome, ToolOutcome } from "./host";
export { HostClient, HostUnavailable } from "./host";
export { log } from "./log";
export { Plugin } from "./plugin";
export type { JsonSchema } from "./schema";
export { ToolContext, ToolError } from "./tool";
export type { ToolHints } from "./tool";
