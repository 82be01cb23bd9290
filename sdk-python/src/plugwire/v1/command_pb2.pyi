from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FlagType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLAG_TYPE_UNSPECIFIED: _ClassVar[FlagType]
    FLAG_TYPE_BOOL: _ClassVar[FlagType]
    FLAG_TYPE_STRING: _ClassVar[FlagType]
    FLAG_TYPE_INT: _ClassVar[FlagType]
    FLAG_TYPE_FLOAT: _ClassVar[FlagType]
    FLAG_TYPE_STRING_LIST: _ClassVar[FlagType]

class Signal(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNAL_UNSPECIFIED: _ClassVar[Signal]
    SIGNAL_INTERRUPT: _ClassVar[Signal]
    SIGNAL_TERMINATE: _ClassVar[Signal]
    SIGNAL_HANGUP: _ClassVar[Signal]
FLAG_TYPE_UNSPECIFIED: FlagType
FLAG_TYPE_BOOL: FlagType
FLAG_TYPE_STRING: FlagType
FLAG_TYPE_INT: FlagType
FLAG_TYPE_FLOAT: FlagType
FLAG_TYPE_STRING_LIST: FlagType
SIGNAL_UNSPECIFIED: Signal
SIGNAL_INTERRUPT: Signal
SIGNAL_TERMINATE: Signal
SIGNAL_HANGUP: Signal

class Flag(_message.Message):
    __slots__ = ("name", "short", "type", "description", "default_json", "required")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHORT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_JSON_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    name: str
    short: str
    type: FlagType
    description: str
    default_json: str
    required: bool
    def __init__(self, name: _Optional[str] = ..., short: _Optional[str] = ..., type: _Optional[_Union[FlagType, str]] = ..., description: _Optional[str] = ..., default_json: _Optional[str] = ..., required: _Optional[bool] = ...) -> None: ...

class Arg(_message.Message):
    __slots__ = ("name", "description", "required", "variadic")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    VARIADIC_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    required: bool
    variadic: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., required: _Optional[bool] = ..., variadic: _Optional[bool] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("name", "parent", "usage", "short", "long", "aliases", "flags", "args")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SHORT_FIELD_NUMBER: _ClassVar[int]
    LONG_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    parent: str
    usage: str
    short: str
    long: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    flags: _containers.RepeatedCompositeFieldContainer[Flag]
    args: _containers.RepeatedCompositeFieldContainer[Arg]
    def __init__(self, name: _Optional[str] = ..., parent: _Optional[str] = ..., usage: _Optional[str] = ..., short: _Optional[str] = ..., long: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., flags: _Optional[_Iterable[_Union[Flag, _Mapping]]] = ..., args: _Optional[_Iterable[_Union[Arg, _Mapping]]] = ...) -> None: ...

class ListCommandsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCommandsResponse(_message.Message):
    __slots__ = ("commands",)
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedCompositeFieldContainer[Command]
    def __init__(self, commands: _Optional[_Iterable[_Union[Command, _Mapping]]] = ...) -> None: ...

class TerminalSize(_message.Message):
    __slots__ = ("columns", "rows")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    columns: int
    rows: int
    def __init__(self, columns: _Optional[int] = ..., rows: _Optional[int] = ...) -> None: ...

class CommandStart(_message.Message):
    __slots__ = ("command", "argv", "flags_json", "args", "env", "terminal", "stdin_is_terminal")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    FLAGS_JSON_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    STDIN_IS_TERMINAL_FIELD_NUMBER: _ClassVar[int]
    command: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    flags_json: str
    args: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    terminal: TerminalSize
    stdin_is_terminal: bool
    def __init__(self, command: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ..., flags_json: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., terminal: _Optional[_Union[TerminalSize, _Mapping]] = ..., stdin_is_terminal: _Optional[bool] = ...) -> None: ...

class StdinClose(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunCommandRequest(_message.Message):
    __slots__ = ("start", "stdin", "stdin_close", "signal", "resize")
    START_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    STDIN_CLOSE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    RESIZE_FIELD_NUMBER: _ClassVar[int]
    start: CommandStart
    stdin: bytes
    stdin_close: StdinClose
    signal: Signal
    resize: TerminalSize
    def __init__(self, start: _Optional[_Union[CommandStart, _Mapping]] = ..., stdin: _Optional[bytes] = ..., stdin_close: _Optional[_Union[StdinClose, _Mapping]] = ..., signal: _Optional[_Union[Signal, str]] = ..., resize: _Optional[_Union[TerminalSize, _Mapping]] = ...) -> None: ...

class CommandExit(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: int
    def __init__(self, code: _Optional[int] = ...) -> None: ...

class RunCommandResponse(_message.Message):
    __slots__ = ("stdout", "stderr", "exit")
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    stdout: bytes
    stderr: bytes
    exit: CommandExit
    def __init__(self, stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., exit: _Optional[_Union[CommandExit, _Mapping]] = ...) -> None: ...
