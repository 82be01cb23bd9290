// Tools: a name, a JSON Schema for the arguments, a handler that returns a
// JSON value (docs/protocol.md section 5).

import type { HostClient } from "./host";
import type { ToolProgress } from "./gen/plugwire/v1/tool";

/** The tool's own failure (PW-TOOL-6): the caller gets a result with
 * `is_error` set and this content, not a protocol error. */
export class ToolError extends Error {
  constructor(readonly content: unknown) {
    super(typeof content === "string" ? content : JSON.stringify(content));
  }
}

/** What a tool handler may ask of its call. */
export class ToolContext {
  private lastProgress: number | undefined;

  constructor(
    /** The tool's name. */
    readonly tool: string,
    /** The plugin's configuration, as `Configure` gave it. */
    readonly config: Record<string, unknown>,
    /** The host's service: storage, events, other tools. */
    readonly host: HostClient,
    /** Aborted when the caller cancels or the deadline passes. */
    readonly signal: AbortSignal,
    private readonly deadline: number | undefined,
    private readonly sendProgress: ((p: ToolProgress) => void) | undefined,
  ) {}

  /** Milliseconds until the call's deadline; `undefined` without one. */
  timeRemaining(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline - Date.now());
  }

  /** Reports progress to a caller that streams (PW-TOOL-10/11); a report
   * that does not increase is dropped. */
  progress(progress: number, total?: number, message = ""): void {
    if (!this.sendProgress) return;
    if (this.lastProgress !== undefined && progress <= this.lastProgress) return;
    this.lastProgress = progress;
    this.sendProgress({ progress, total: total === undefined ? undefined : Math.max(total, progress), message });
  }
}

/** Behaviour hints for callers (MCP's annotations). */
export interface ToolHints {
  readOnly?: boolean;
  destructive?: boolean;
  idempotent?: boolean;
  openWorld?: boolean;
}
