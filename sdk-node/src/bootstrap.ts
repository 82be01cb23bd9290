// The process side of the bootstrap (docs/protocol.md section 2): the
// cookie, the version, the socket path and the bootstrap line. It only
// reads the environment it is given, so it can be tested alone.

import * as os from "node:os";
import * as path from "node:path";

export const COOKIE_KEY = "PLUGWIRE_PLUGIN";
export const COOKIE_VALUE = "5d3c1f0e-plugwire";
export const SUPPORTED_VERSIONS = [1];
export const SOCKET_FILE_NAME = "plugin.sock";
/** PW-BOOT-13: messages of up to 16 MiB in both directions. */
export const MAX_MESSAGE = 16 * 1024 * 1024;

/** Why the plugin cannot start; printed on stderr before exiting 1. */
export class BootstrapError extends Error {}

/** What the environment told the plugin. */
export interface Bootstrap {
  version: number;
  socketPath: string;
  hostSocket: string | undefined;
  /** The sixth field under go-plugin's AutoMTLS (PW-GP-3). */
  serverCert?: string;
  /** The client asked about go-plugin's multiplexed broker (PW-GP-4). */
  multiplex?: boolean;
}

/** PW-BOOT-2: the one line printed on stdout once serving. */
export function bootstrapLine(boot: Bootstrap): string {
  const line = `1|${boot.version}|unix|${boot.socketPath}|grpc|${boot.serverCert ?? ""}`;
  return `${line}${boot.multiplex ? "|false" : ""}\n`;
}

/** Checks the cookie (PW-BOOT-1), picks the highest common version
 * (PW-BOOT-3) and chooses the socket path. */
export function readBootstrap(env: NodeJS.ProcessEnv): Bootstrap {
  if (env[COOKIE_KEY] !== COOKIE_VALUE) {
    throw new BootstrapError(
      "this is a plugwire plugin; it is started by a plugwire host, not by hand " +
        "(the PLUGWIRE_PLUGIN cookie is missing). Try `plugwire check DIR`.",
    );
  }
  const raw = env.PLUGIN_PROTOCOL_VERSIONS ?? "";
  const offered = raw
    .split(",")
    .map((v) => v.trim())
    .filter((v) => /^[0-9]+$/.test(v))
    .map(Number);
  const common = offered.filter((v) => SUPPORTED_VERSIONS.includes(v));
  if (common.length === 0) {
    throw new BootstrapError(
      `no common protocol version: the host offered "${raw}", this plugin speaks ` +
        `${SUPPORTED_VERSIONS.join(",")}; upgrade whichever is older`,
    );
  }
  const dir = env.PLUGIN_UNIX_SOCKET_DIR;
  let socketPath: string;
  if (!dir) {
    // go-plugin's servers fall back to the temporary directory, and so
    // does this, with a name of its own there.
    socketPath = path.join(os.tmpdir(), `plugwire-${process.pid}.sock`);
  } else if (!path.isAbsolute(dir)) {
    throw new BootstrapError(`PLUGIN_UNIX_SOCKET_DIR must be an absolute directory, saw "${dir}"`);
  } else {
    socketPath = path.join(dir, SOCKET_FILE_NAME);
  }
  return {
    version: Math.max(...common),
    socketPath,
    hostSocket: env.PLUGWIRE_HOST_SOCKET || undefined,
    multiplex: Boolean(env.PLUGIN_MULTIPLEX_GRPC),
  };
}
