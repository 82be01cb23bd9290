"""Tools: a name, a JSON Schema for the arguments, a handler that returns a
JSON value (docs/protocol.md section 5)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from . import schema as schemas
from .v1 import tool_pb2

if TYPE_CHECKING:
    from .host import HostClient

log = logging.getLogger("plugwire.tool")


class ToolError(Exception):
    """The tool's own failure (PW-TOOL-6): the caller gets a result with
    `is_error` set and this content, not a protocol error.

    >>> ToolError("no such file: a.txt").content
    'no such file: a.txt'
    """

    def __init__(self, content: Any) -> None:
        super().__init__(content if isinstance(content, str) else json.dumps(content))
        self.content = content


@dataclass
class ToolContext:
    """What a tool handler may ask of its call: progress, the deadline, the
    plugin's configuration and the host. Declare a parameter of this type
    and the SDK passes it."""

    tool: str
    config: dict[str, Any]
    host: HostClient
    _deadline: float | None = None
    _progress: Callable[[tool_pb2.ToolProgress], None] | None = None
    _last_progress: float | None = field(default=None, repr=False)

    def time_remaining(self) -> float | None:
        """Seconds until the call's deadline, `None` when it has none."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    async def progress(self, progress: float, total: float | None = None, message: str = "") -> None:
        """Reports progress to a caller that streams (PW-TOOL-10/11); a
        report that does not increase is dropped."""
        if self._progress is None:
            return
        if self._last_progress is not None and progress <= self._last_progress:
            log.debug("progress %s does not increase on %s; dropped", progress, self._last_progress)
            return
        if total is not None and total < progress:
            total = progress
        self._last_progress = progress
        self._progress(tool_pb2.ToolProgress(progress=progress, total=total, message=message))
        await asyncio.sleep(0)


Handler = Callable[..., Awaitable[Any]]


@dataclass
class Tool:
    """One declared tool. Made by `Plugin.tool`."""

    name: str
    description: str
    arguments: schemas.Arguments
    to_kwargs: Callable[[Any], dict[str, Any]]
    handler: Handler
    context_param: str | None
    output_schema: dict[str, Any] | None
    output_adapter: TypeAdapter[Any] | None
    annotations: tool_pb2.ToolAnnotations

    @classmethod
    def from_function(
        cls,
        fn: Handler,
        *,
        name: str | None,
        description: str | None,
        schema: dict[str, Any] | None,
        annotations: tool_pb2.ToolAnnotations,
    ) -> Tool:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"tool {fn.__name__}: the handler must be `async def`")
        name = name or fn.__name__
        description = description or _first_paragraph(fn.__doc__) or ""
        context_param = _context_param(fn)

        def is_context(p: inspect.Parameter) -> bool:
            return p.name == context_param

        if schema is not None:
            others = [p.name for p in inspect.signature(fn).parameters.values() if not is_context(p)]
            if len(others) != 1:
                raise TypeError(
                    f"tool {name}: with a literal schema the handler takes one parameter "
                    f"for the arguments (and optionally a ToolContext), saw {others}"
                )
            arguments = schemas.Arguments.literal(schema)
            only = others[0]
            to_kwargs: Callable[[Any], dict[str, Any]] = lambda value: {only: value}  # noqa: E731
        else:
            arguments, to_kwargs = schemas.from_signature(name, fn, is_context)
        output, adapter = schemas.output_schema(fn)
        return cls(name, description, arguments, to_kwargs, fn, context_param, output, adapter, annotations)

    def declaration(self) -> tool_pb2.Tool:
        return tool_pb2.Tool(
            name=self.name,
            description=self.description,
            input_schema_json=json.dumps(self.arguments.schema),
            output_schema_json=json.dumps(self.output_schema) if self.output_schema else "",
            annotations=self.annotations,
        )

    async def call(self, value: Any, cx: ToolContext) -> tool_pb2.ToolResult:
        """Runs the handler on checked arguments; its failures become
        `is_error` results."""
        kwargs = self.to_kwargs(value)
        if self.context_param:
            kwargs[self.context_param] = cx
        try:
            result = await self.handler(**kwargs)
        except ToolError as e:
            return tool_pb2.ToolResult(is_error=True, content_json=_dumps(e.content))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the tool's bug is still the tool's failure
            log.exception("tool %s raised", self.name)
            return tool_pb2.ToolResult(
                is_error=True, content_json=json.dumps(f"tool {self.name} raised {type(e).__name__}: {e}")
            )
        if self.output_adapter is not None:
            result = self.output_adapter.dump_python(result, mode="json")
        return tool_pb2.ToolResult(content_json=_dumps(result))


def _dumps(value: Any) -> str:
    return json.dumps(to_jsonable_python(value), ensure_ascii=False)


def _context_param(fn: Callable[..., Any]) -> str | None:
    for p in inspect.signature(fn, eval_str=True).parameters.values():
        if p.annotation is ToolContext:
            return p.name
    return None


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
