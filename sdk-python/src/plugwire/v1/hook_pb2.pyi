import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HookMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOOK_MODE_UNSPECIFIED: _ClassVar[HookMode]
    HOOK_MODE_OBSERVE: _ClassVar[HookMode]
    HOOK_MODE_INTERCEPT: _ClassVar[HookMode]

class FailurePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAILURE_POLICY_UNSPECIFIED: _ClassVar[FailurePolicy]
    FAILURE_POLICY_OPEN: _ClassVar[FailurePolicy]
    FAILURE_POLICY_CLOSED: _ClassVar[FailurePolicy]

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_CONTINUE: _ClassVar[Decision]
    DECISION_MODIFY: _ClassVar[Decision]
    DECISION_DENY: _ClassVar[Decision]
HOOK_MODE_UNSPECIFIED: HookMode
HOOK_MODE_OBSERVE: HookMode
HOOK_MODE_INTERCEPT: HookMode
FAILURE_POLICY_UNSPECIFIED: FailurePolicy
FAILURE_POLICY_OPEN: FailurePolicy
FAILURE_POLICY_CLOSED: FailurePolicy
DECISION_UNSPECIFIED: Decision
DECISION_CONTINUE: Decision
DECISION_MODIFY: Decision
DECISION_DENY: Decision

class HookSubscription(_message.Message):
    __slots__ = ("pattern", "mode", "priority", "failure_policy")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    FAILURE_POLICY_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    mode: HookMode
    priority: int
    failure_policy: FailurePolicy
    def __init__(self, pattern: _Optional[str] = ..., mode: _Optional[_Union[HookMode, str]] = ..., priority: _Optional[int] = ..., failure_policy: _Optional[_Union[FailurePolicy, str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "name", "payload_json", "time", "source")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    payload_json: str
    time: _timestamp_pb2.Timestamp
    source: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., payload_json: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class HandleEventRequest(_message.Message):
    __slots__ = ("event", "mode", "pattern")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    event: Event
    mode: HookMode
    pattern: str
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ..., mode: _Optional[_Union[HookMode, str]] = ..., pattern: _Optional[str] = ...) -> None: ...

class HandleEventResponse(_message.Message):
    __slots__ = ("decision", "payload_json", "reason")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    payload_json: str
    reason: str
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., payload_json: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
