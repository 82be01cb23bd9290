// Hooks: ordered events a plugin observes or intercepts (docs/protocol.md
// section 7).

import { Decision as DecisionKind, HandleEventResponse } from "./gen/plugwire/v1/hook";

/** An event delivered to a hook. */
export interface HookEvent {
  id: string;
  name: string;
  payload: unknown;
  /** `host` or `plugin:NAME`. */
  source: string;
  time: Date | undefined;
  /** The subscription's pattern that matched. */
  pattern: string;
}

/** What a hook may ask of its delivery. */
export interface HookContext {
  /** Aborted when the delivery's deadline passes or the host cancels it. */
  signal: AbortSignal;
  /** The plugin's configuration. */
  config: Record<string, unknown>;
}

/** What an intercepting hook decides (PW-HOOK-4); returning nothing
 * continues. */
export class Decision {
  private constructor(
    readonly kind: DecisionKind,
    readonly payload?: unknown,
    readonly reason = "",
  ) {}

  /** Let the event through unchanged. */
  static proceed(): Decision {
    return new Decision(DecisionKind.DECISION_CONTINUE);
  }

  /** Replace the payload for later hooks and the emitter. */
  static modify(payload: unknown): Decision {
    return new Decision(DecisionKind.DECISION_MODIFY, payload);
  }

  /** Stop the event; the emitter learns `reason`. */
  static deny(reason: string): Decision {
    if (!reason) throw new Error("a denial needs a reason the emitter can read");
    return new Decision(DecisionKind.DECISION_DENY, undefined, reason);
  }

  /** @internal */
  response(): HandleEventResponse {
    return HandleEventResponse.fromPartial({
      decision: this.kind,
      payloadJson: this.kind === DecisionKind.DECISION_MODIFY ? JSON.stringify(this.payload) : "",
      reason: this.reason,
    });
  }
}

/** PW-HOOK-2: `*`, the exact name, or `prefix.*` (not `prefix` itself). */
export function patternMatches(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return name.startsWith(pattern.slice(0, -1)) && name.length > pattern.length - 1;
  return pattern === name;
}
