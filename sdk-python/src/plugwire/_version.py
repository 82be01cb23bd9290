"""The SDK's version, sent in the handshake."""

__version__ = "0.1.0"
