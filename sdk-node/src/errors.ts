// Errors a plugin raises on purpose.

/** A configuration the plugin refuses (PW-CFG-2): `pointer` names the
 * field, `problem` says what was expected and seen. */
export class ConfigError extends Error {
  constructor(pointer: string, problem: string) {
    super(pointer ? `config ${pointer}: ${problem}` : `config: ${problem}`);
  }
}
