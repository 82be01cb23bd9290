// A plugin: what it declares (tools, commands, hooks, providers) and how it
// is configured. Serving it is serve.ts's job.

import type * as grpc from "@grpc/grpc-js";
import type { z } from "zod";
import { ArgSpec, CommandContext, FlagSpec } from "./command";
import type { CommandEntry, Declarations, HookEntry, ProviderEntry, ToolEntry } from "./declarations";
import { Decision, HookContext, HookEvent } from "./hook";
import { Arguments, JsonSchema, fromJsonSchema, fromZod, isZod } from "./schema";
import { serve } from "./serve";
import { ToolContext, ToolHints } from "./tool";

const NAME = /^[a-z][a-z0-9-]{0,63}$/;
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

interface ToolSpec<I> extends ToolHints {
  /** What it does; callers (and models) read it. */
  description: string;
  /** A zod schema, or a literal JSON Schema whose root is an object. */
  input: I;
  /** The result's schema, for structured results. */
  output?: z.ZodType | JsonSchema;
}

interface CommandSpec<F extends Record<string, FlagSpec>> {
  short?: string;
  long?: string;
  usage?: string;
  parent?: string;
  aliases?: string[];
  flags?: F;
  args?: ArgSpec[];
}

interface HookSpec {
  /** Intercept (may modify or deny) rather than observe. */
  intercept?: boolean;
  priority?: number;
  /** Deny the event when this hook fails (intercepting hooks only). */
  failClosed?: boolean;
}

/** Declares a plugin; add what it offers, then `serve()`. */
export class Plugin implements Declarations {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  /** @internal */ readonly tools = new Map<string, ToolEntry>();
  /** @internal */ readonly commands = new Map<string, CommandEntry>();
  /** @internal */ readonly hooks: HookEntry[] = [];
  /** @internal */ readonly providers: ProviderEntry[] = [];
  /** @internal */ readonly features: string[] = [];
  /** @internal */ readonly configureHooks: ((config: Record<string, unknown>) => void | Promise<void>)[] = [];

  constructor(info: { name: string; version: string; description?: string }) {
    if (!NAME.test(info.name)) {
      throw new Error(`plugin name "${info.name}": expected lower-case letters, digits and '-', starting with a letter, at most 64 (the manifest's name)`);
    }
    this.name = info.name;
    this.version = info.version;
    this.description = info.description ?? "";
  }

  /** Adds a tool whose arguments are checked against `spec.input` before
   * `handler` runs (refusals name the field). */
  tool<S extends z.ZodType>(name: string, spec: ToolSpec<S>, handler: (args: z.output<S>, cx: ToolContext) => Promise<unknown>): this;
  tool(name: string, spec: ToolSpec<JsonSchema>, handler: (args: Record<string, unknown>, cx: ToolContext) => Promise<unknown>): this;
  tool(name: string, spec: ToolSpec<z.ZodType | JsonSchema>, handler: (args: never, cx: ToolContext) => Promise<unknown>): this {
    if (!TOOL_NAME.test(name)) throw new Error(`tool name "${name}": expected 1 to 64 of A-Z a-z 0-9 _ -`);
    if (this.tools.has(name)) throw new Error(`tool "${name}" is declared twice`);
    const args = (isZod(spec.input) ? fromZod(spec.input) : fromJsonSchema(spec.input)) as Arguments<unknown>;
    const output = spec.output === undefined ? undefined : isZod(spec.output) ? fromZod(spec.output).schema : spec.output;
    const { readOnly, destructive, idempotent, openWorld } = spec;
    this.tools.set(name, {
      name,
      description: spec.description,
      args,
      output,
      hints: { readOnly, destructive, idempotent, openWorld },
      handler: handler as (args: unknown, cx: ToolContext) => Promise<unknown>,
    });
    return this;
  }

  /** Adds a command; `handler` returns its exit code (nothing is 0). */
  command<F extends Record<string, FlagSpec> = Record<string, never>>(
    name: string,
    spec: CommandSpec<F>,
    handler: (cx: CommandContext<F>) => Promise<number | void>,
  ): this {
    for (const word of [name, ...(spec.aliases ?? [])]) {
      if (!NAME.test(word)) throw new Error(`command name "${word}": expected lower-case letters, digits and '-'`);
    }
    const parent = spec.parent ?? "";
    if (parent && !this.commands.has(parent)) throw new Error(`command "${name}": its parent "${parent}" must be declared first`);
    const fullName = parent ? `${parent} ${name}` : name;
    if (this.commands.has(fullName)) throw new Error(`command "${fullName}" is declared twice`);
    this.commands.set(fullName, {
      name,
      parent,
      fullName,
      short: spec.short ?? "",
      long: spec.long ?? "",
      usage: spec.usage ?? "",
      aliases: spec.aliases ?? [],
      flags: spec.flags ?? {},
      args: spec.args ?? [],
      handler: handler as (cx: CommandContext) => Promise<number | void>,
    });
    return this;
  }

  /** Subscribes to events matching `pattern` (`*`, a name, or `prefix.*`). */
  hook(pattern: string, spec: HookSpec, handler: (event: HookEvent, cx: HookContext) => Promise<Decision | void>): this {
    this.hooks.push({ pattern, intercept: spec.intercept ?? false, priority: spec.priority ?? 0, failClosed: spec.failClosed ?? false, handler });
    return this;
  }

  /** Serves an application-defined gRPC service (its generated definition
   * and an implementation) under `name`. */
  provider(service: string, definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation, name = "default"): this {
    this.providers.push({ service, name, definition, implementation });
    return this;
  }

  /** Runs `fn(config)` at `Configure`; throw `ConfigError` to refuse. */
  onConfigure(fn: (config: Record<string, unknown>) => void | Promise<void>): this {
    this.configureHooks.push(fn);
    return this;
  }

  /** Lists an optional protocol feature (for example `conformance`). */
  feature(name: string): this {
    if (!this.features.includes(name)) this.features.push(name);
    return this;
  }

  /** Runs the plugin until the host stops it (docs/protocol.md). */
  serve(): void {
    serve(this);
  }
}
