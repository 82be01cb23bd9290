"""Errors a plugin raises on purpose."""


class ConfigError(Exception):
    """A configuration the plugin refuses (PW-CFG-2): `pointer` names the
    field, `problem` says what was expected and seen.

    >>> str(ConfigError("/retries", 'expected an integer, saw "three"'))
    'config /retries: expected an integer, saw "three"'
    """

    def __init__(self, pointer: str, problem: str) -> None:
        super().__init__(f"config {pointer}: {problem}" if pointer else f"config: {problem}")
