import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from plugwire.v1 import hook_pb2 as _hook_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HostInfo(_message.Message):
    __slots__ = ("name", "version", "app_name", "app_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    APP_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    app_name: str
    app_version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., app_name: _Optional[str] = ..., app_version: _Optional[str] = ...) -> None: ...

class HandshakeRequest(_message.Message):
    __slots__ = ("host", "protocol_version", "features", "instance_id", "plugin_name", "default_call_timeout", "host_services")
    HOST_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_CALL_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    HOST_SERVICES_FIELD_NUMBER: _ClassVar[int]
    host: HostInfo
    protocol_version: int
    features: _containers.RepeatedScalarFieldContainer[str]
    instance_id: str
    plugin_name: str
    default_call_timeout: _duration_pb2.Duration
    host_services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, host: _Optional[_Union[HostInfo, _Mapping]] = ..., protocol_version: _Optional[int] = ..., features: _Optional[_Iterable[str]] = ..., instance_id: _Optional[str] = ..., plugin_name: _Optional[str] = ..., default_call_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., host_services: _Optional[_Iterable[str]] = ...) -> None: ...

class PluginInfo(_message.Message):
    __slots__ = ("name", "version", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    description: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class SdkInfo(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ProviderDeclaration(_message.Message):
    __slots__ = ("service", "name")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    service: str
    name: str
    def __init__(self, service: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Capabilities(_message.Message):
    __slots__ = ("tools", "commands", "hooks", "providers")
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedScalarFieldContainer[str]
    commands: _containers.RepeatedScalarFieldContainer[str]
    hooks: _containers.RepeatedCompositeFieldContainer[_hook_pb2.HookSubscription]
    providers: _containers.RepeatedCompositeFieldContainer[ProviderDeclaration]
    def __init__(self, tools: _Optional[_Iterable[str]] = ..., commands: _Optional[_Iterable[str]] = ..., hooks: _Optional[_Iterable[_Union[_hook_pb2.HookSubscription, _Mapping]]] = ..., providers: _Optional[_Iterable[_Union[ProviderDeclaration, _Mapping]]] = ...) -> None: ...

class HandshakeResponse(_message.Message):
    __slots__ = ("plugin", "sdk", "features", "capabilities")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    SDK_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    plugin: PluginInfo
    sdk: SdkInfo
    features: _containers.RepeatedScalarFieldContainer[str]
    capabilities: Capabilities
    def __init__(self, plugin: _Optional[_Union[PluginInfo, _Mapping]] = ..., sdk: _Optional[_Union[SdkInfo, _Mapping]] = ..., features: _Optional[_Iterable[str]] = ..., capabilities: _Optional[_Union[Capabilities, _Mapping]] = ...) -> None: ...

class ConfigureRequest(_message.Message):
    __slots__ = ("config_json",)
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    def __init__(self, config_json: _Optional[str] = ...) -> None: ...

class ConfigureResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ("grace",)
    GRACE_FIELD_NUMBER: _ClassVar[int]
    grace: _duration_pb2.Duration
    def __init__(self, grace: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ShutdownResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
