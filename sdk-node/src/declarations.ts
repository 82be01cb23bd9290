// What a plugin declares, as the services read it: Plugin builds it,
// serve and testing take it, and neither needs the other.

import type * as grpc from "@grpc/grpc-js";
import type { ArgSpec, CommandContext, FlagSpec } from "./command";
import type { Decision, HookContext, HookEvent } from "./hook";
import type { Arguments, JsonSchema } from "./schema";
import type { ToolContext, ToolHints } from "./tool";

/** @internal */
export interface ToolEntry {
  name: string;
  description: string;
  args: Arguments<unknown>;
  output: JsonSchema | undefined;
  hints: ToolHints;
  handler: (args: unknown, cx: ToolContext) => Promise<unknown>;
}

/** @internal */
export interface CommandEntry {
  name: string;
  parent: string;
  fullName: string;
  short: string;
  long: string;
  usage: string;
  aliases: string[];
  flags: Record<string, FlagSpec>;
  args: ArgSpec[];
  handler: (cx: CommandContext) => Promise<number | void>;
}

/** @internal */
export interface HookEntry {
  pattern: string;
  intercept: boolean;
  priority: number;
  failClosed: boolean;
  handler: (event: HookEvent, cx: HookContext) => Promise<Decision | void>;
}

/** @internal */
export interface ProviderEntry {
  service: string;
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

/** A plugin's identity and everything it offers. */
export interface Declarations {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly tools: Map<string, ToolEntry>;
  readonly commands: Map<string, CommandEntry>;
  readonly hooks: HookEntry[];
  readonly providers: ProviderEntry[];
  readonly features: string[];
  readonly configureHooks: ((config: Record<string, unknown>) => void | Promise<void>)[];
}
