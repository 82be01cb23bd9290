"""JSON Schemas from Python types, and validation whose errors name the
field as a JSON pointer (PW-TOOL-5).

A tool's arguments come from its handler's signature: each parameter is a
property, typed by its annotation (through pydantic), required unless it has
a default. A handler that takes one pydantic model uses that model. A
literal schema (a dict) is validated with `jsonschema` instead."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, TypeAdapter

#: A JSON object of arguments that violates the schema: (pointer, problem).
Problem = tuple[str, str]


def pointer(path: tuple[str | int, ...] | list[str | int]) -> str:
    """The JSON pointer of a path, `""` for the whole document.

    >>> pointer(("items", 0, "a/b"))
    '/items/0/a~1b'
    """
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def located(what: str, pointer: str, problem: str) -> str:
    """PW-TOOL-5's form: `arguments /x: problem`, or `arguments: problem`
    for the whole document.

    >>> located("arguments", "", "expected a JSON object, saw [1]")
    'arguments: expected a JSON object, saw [1]'
    """
    return f"{what} {pointer}: {problem}" if pointer else f"{what}: {problem}"


class Arguments:
    """How one tool's arguments are described, checked and passed."""

    def __init__(
        self,
        schema: dict[str, Any],
        check: Callable[[str, bool], tuple[Any, Problem | None]],
    ) -> None:
        self.schema = schema
        self._check = check

    def parse(self, arguments_json: str, validated: bool = False) -> tuple[Any, Problem | None]:
        """The handler's value, or the first problem. With `validated` (the
        host checked the text against `schema`, PW-TOOL-16) a check that
        only repeats the host's is skipped; decoding still refuses."""
        return self._check(arguments_json or "{}", validated)

    @classmethod
    def literal(cls, schema: dict[str, Any]) -> Arguments:
        """A hand-written schema: the handler receives the JSON object."""
        # Imported here, not at the top: jsonschema costs a plugin ~30 ms
        # at start, and only literal schemas need it.
        import jsonschema

        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        validator = validator_class(schema)

        def check(text: str, validated: bool) -> tuple[Any, Problem | None]:
            value, problem = _json_object(text)
            if problem:
                return None, problem
            if validated:
                return value, None
            error = jsonschema.exceptions.best_match(validator.iter_errors(value))
            if error is not None:
                return None, (pointer(list(error.absolute_path)), error.message)
            return value, None

        return cls(schema, check)

    @classmethod
    def model(cls, model: type[BaseModel]) -> Arguments:
        """A pydantic model: the handler receives an instance."""

        def check(text: str, validated: bool) -> tuple[Any, Problem | None]:
            # One parse: pydantic reads the JSON and checks it together,
            # even when the host validated it (the handler gets the model).
            try:
                return model.model_validate_json(text, strict=True), None
            except pydantic.ValidationError as e:
                return None, _first(e)

        return cls(_clean(model.model_json_schema()), check)


def from_signature(
    name: str, fn: Callable[..., Any], skip: Callable[[inspect.Parameter], bool]
) -> tuple[Arguments, Callable[[Any], dict[str, Any]]]:
    """Arguments from `fn`'s parameters (except those `skip` names), and how
    to turn the checked value into keyword arguments for `fn`."""
    params = [p for p in _signature(fn).parameters.values() if not skip(p)]
    if len(params) == 1 and _is_model(params[0].annotation):
        only = params[0].name
        return Arguments.model(params[0].annotation), lambda value: {only: value}
    fields: dict[str, Any] = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {name}: *{p.name} cannot be an argument; name each one")
        if p.annotation is inspect.Parameter.empty:
            raise TypeError(
                f"tool {name}: parameter {p.name!r} has no type annotation; "
                "the annotation is what its schema is made from"
            )
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (p.annotation, default)
    model = pydantic.create_model(
        f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    return Arguments.model(model), lambda value: dict(value)


def output_schema(fn: Callable[..., Any]) -> tuple[dict[str, Any] | None, TypeAdapter[Any] | None]:
    """The result's schema, for structured return types (models, dataclasses,
    typed dicts), and the adapter that turns a result into JSON values."""
    annotation = _signature(fn).return_annotation
    if annotation is inspect.Signature.empty or annotation is None:
        return None, None
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    structured = _is_model(annotation) or _is_dataclass_or_typed_dict(annotation)
    return (_clean(adapter.json_schema()) if structured else None), adapter


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    # eval_str: resolve `from __future__ import annotations` strings.
    return inspect.signature(fn, eval_str=True)


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _is_dataclass_or_typed_dict(annotation: Any) -> bool:
    import dataclasses

    return dataclasses.is_dataclass(annotation) or (
        isinstance(annotation, type) and hasattr(annotation, "__total__")
    )


def _json_object(text: str) -> tuple[Any, Problem | None]:
    try:
        value = json.loads(text)
    except ValueError as e:
        return None, ("", f"expected a JSON object, the text is not JSON: {e}")
    if not isinstance(value, dict):
        return None, ("", f"expected a JSON object, saw {_short(value)}")
    return value, None


def _first(error: pydantic.ValidationError) -> Problem:
    first = error.errors(include_url=False)[0]
    path = tuple(first["loc"])
    field = str(path[-1]) if path else ""
    kind = first["type"]
    if kind == "json_invalid":
        return "", f"expected a JSON object, the text is not JSON: {first['ctx']['error']}"
    if kind == "model_type" and not path:
        return "", f"expected a JSON object, saw {_short(first.get('input'))}"
    if kind == "missing":
        return pointer(path), f'"{field}" is a required property'
    if kind == "extra_forbidden":
        return pointer(path), f'unknown property "{field}"'
    return pointer(path), f"{first['msg'].lower()}, saw {_short(first.get('input'))}"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _clean(schema: dict[str, Any]) -> dict[str, Any]:
    """Drops pydantic's generated titles: the tool's name says it."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    return schema
