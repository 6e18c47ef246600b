"""The configuration: one TOML file, validated into frozen dataclasses (``model``) by
``load``; ``checks`` holds the validators. Every problem is a one-line :class:`ConfigError`."""

from __future__ import annotations

from paperdigest.config.checks import validate_cron
from paperdigest.config.load import load_config, parse_config
from paperdigest.config.model import (CONFIG_ENV, DEFAULT_CONFIG, DEFAULT_MAX_INPUT_BYTES, PASSWORD_ENV,
                                      PROFILE_NAME_RE, SECRET_ENV, SOURCE_FORMATS, Config, EmailConfig, FeedConfig,
                                      Profile, ScheduleConfig, SemanticConfig, SourceConfig, WebConfig, config_path)

__all__ = ["CONFIG_ENV", "DEFAULT_CONFIG", "DEFAULT_MAX_INPUT_BYTES", "PASSWORD_ENV", "PROFILE_NAME_RE",
           "SECRET_ENV", "SOURCE_FORMATS", "Config", "EmailConfig", "FeedConfig", "Profile", "ScheduleConfig",
           "SemanticConfig", "SourceConfig", "WebConfig", "config_path", "load_config", "parse_config",
           "validate_cron"]
