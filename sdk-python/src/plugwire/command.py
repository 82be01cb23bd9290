"""Commands: CLI subcommands the host offers as its own, with typed flags,
positional arguments, streamed stdio and an exit code (docs/protocol.md
section 6)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .v1 import command_pb2

#: PW-CMD-6: output goes in chunks of at most 64 KiB.
CHUNK = 64 * 1024

_FLAG_TYPES: dict[Any, command_pb2.FlagType] = {
    bool: command_pb2.FLAG_TYPE_BOOL,
    str: command_pb2.FLAG_TYPE_STRING,
    int: command_pb2.FLAG_TYPE_INT,
    float: command_pb2.FLAG_TYPE_FLOAT,
    list: command_pb2.FLAG_TYPE_STRING_LIST,
    list[str]: command_pb2.FLAG_TYPE_STRING_LIST,
}


@dataclass(frozen=True)
class Flag:
    """A flag: `--name VALUE` (`--name` alone for `bool`), typed by `type`
    (bool, str, int, float or list[str]); the host parses and checks it.

    >>> Flag("times", int, default=1, short="n").declaration().default_json
    '1'
    """

    name: str
    type: Any = str
    default: Any = None
    short: str = ""
    description: str = ""
    required: bool = False

    def declaration(self) -> command_pb2.Flag:
        kind = _FLAG_TYPES.get(self.type)
        if kind is None:
            raise TypeError(f"flag --{self.name}: type must be bool, str, int, float or list[str], saw {self.type!r}")
        return command_pb2.Flag(
            name=self.name,
            short=self.short,
            type=kind,
            description=self.description,
            default_json="" if self.default is None else json.dumps(self.default),
            required=self.required,
        )


@dataclass(frozen=True)
class Arg:
    """A positional argument; only the last may be `variadic`."""

    name: str
    description: str = ""
    required: bool = False
    variadic: bool = False

    def declaration(self) -> command_pb2.Arg:
        return command_pb2.Arg(
            name=self.name, description=self.description, required=self.required, variadic=self.variadic
        )


class Stdin:
    """The command's standard input: iterate for chunks, or `read()` it
    all; it ends when the host closes it (PW-CMD-5)."""

    def __init__(self) -> None:
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._ended = False

    def _feed(self, chunk: bytes | None) -> None:
        self._chunks.put_nowait(chunk)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._ended:
            raise StopAsyncIteration
        chunk = await self._chunks.get()
        if chunk is None:
            self._ended = True
            raise StopAsyncIteration
        return chunk

    async def read(self) -> bytes:
        """Everything up to end-of-file."""
        return b"".join([chunk async for chunk in self])


class Output:
    """Standard output or error: `write` sends bytes or text as it comes."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self._send = send

    async def write(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        for i in range(0, len(raw), CHUNK):
            self._send(raw[i : i + CHUNK])
        await asyncio.sleep(0)

    async def print(self, *values: Any, sep: str = " ", end: str = "\n") -> None:
        """Like `print`, to this stream."""
        await self.write(sep.join(map(str, values)) + end)


@dataclass
class CommandContext:
    """One run of a command: its parsed flags and arguments, its stdio, the
    environment the host passed, and whether the user interrupted it."""

    command: str
    flags: dict[str, Any]
    args: list[str]
    env: Mapping[str, str]
    stdin: Stdin
    stdout: Output
    stderr: Output
    config: dict[str, Any]
    terminal: tuple[int, int] | None = None
    #: Set when the host forwards SIGINT or SIGTERM (PW-CMD-8).
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)
    signal: int = 0


CommandHandler = Callable[[CommandContext], Awaitable[int | None]]


@dataclass
class Command:
    """One declared command. Made by `Plugin.command`."""

    name: str
    handler: CommandHandler
    short: str = ""
    long: str = ""
    usage: str = ""
    parent: str = ""
    aliases: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()
    args: tuple[Arg, ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.parent} {self.name}" if self.parent else self.name

    def declaration(self) -> command_pb2.Command:
        return command_pb2.Command(
            name=self.name,
            parent=self.parent,
            usage=self.usage,
            short=self.short,
            long=self.long,
            aliases=list(self.aliases),
            flags=[f.declaration() for f in self.flags],
            args=[a.declaration() for a in self.args],
        )
