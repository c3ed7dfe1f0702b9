"""The gateway's one configuration file: schema, loading, and the built-in demo."""

from gateway.config.loader import ConfigError, load_config, parse_config
from gateway.config.schema import (
    BackendConfig,
    GatewayConfig,
    KeyConfig,
    ModelConfig,
    ServerConfig,
    TierConfig,
    TokenizerConfig,
)

__all__ = [
    "BackendConfig",
    "ConfigError",
    "GatewayConfig",
    "KeyConfig",
    "ModelConfig",
    "ServerConfig",
    "TierConfig",
    "TokenizerConfig",
    "load_config",
    "parse_config",
]
