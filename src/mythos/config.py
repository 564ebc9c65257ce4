"""Settings: defaults < mythos.toml < MYTHOS_* environment variables < command-line flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PACKAGE_DIR = Path(__file__).resolve().parent


def default_world_dir() -> Path:
    """``data/world`` of the working directory, else the one beside the source checkout."""
    here = Path("data/world")
    if here.is_dir():
        return here
    return PACKAGE_DIR.parents[1] / "data" / "world"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MYTHOS_", toml_file="mythos.toml", extra="ignore")

    host: str = "127.0.0.1"
    telnet_port: int = 4000
    web_port: int = 8080
    data_dir: Path = Path("var")
    database_url: str = ""  # default: sqlite+aiosqlite:///<data_dir>/mythos.db
    db_busy_timeout: float = 5.0  # SQLite: how long a write waits for another writer's lock
    world: Path = Field(default_factory=default_world_dir)
    name: str = "Mythos"

    # Game
    start_room: str | None = None  # default: the world's start_room
    pulse_seconds: float = 0.1
    flush_interval: float = 1.0
    flush_batch: int = 1000
    max_line: int = 4096
    output_limit: int = 512 * 1024  # bytes queued for one client before it is disconnected
    commands_per_second: float = 20.0  # per session; the burst is twice that
    login_failure_delay: float = 1.0  # seconds, doubled for each recent failure from one address
    hash_threads: int = 2
    #: Seconds in one minute of mutes, silences and the per-minute channel limits (tests
    #: shorten it; the end of a mute is kept as a wall-clock time).
    minute_seconds: float = 60.0
    channel_rate_limits: bool = True  # RULES.md's lines-per-minute limits on the channels
    web_ticket_seconds: float = 30.0  # life of the one-use token the browser's login hands /ws

    # Operations
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    shutdown_grace: float = 10.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'mythos.db'}"
