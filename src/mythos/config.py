"""Settings: defaults < mythos.toml < MYTHOS_* environment variables < command-line flags."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
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
    database_url: str = ""  # default: sqlite:///<data_dir>/mythos.db
    db_busy_timeout: float = 5.0  # SQLite: how long a write waits for another writer's lock
    world: Path = Field(default_factory=default_world_dir)
    name: str = "Mythos"

    # Game
    start_room: str | None = None  # default: the world's start_room
    pulse_seconds: float = 0.1
    #: Seconds between two writes of others' news to one client (what it hears, sees arrive,
    #: feels): what comes meanwhile waits and goes in one write, or at once with the answer
    #: to its own next command, which never waits. A busy zone then costs each client a few
    #: writes a second, not one per line. 0: at every pulse.
    output_interval: float = Field(default=0.25, ge=0)
    flush_interval: float = 1.0
    flush_batch: int = 250  # rows per transaction (~2-4 ms of loop work), more when slow
    max_line: int = 4096
    output_limit: int = 512 * 1024  # bytes queued for one client before it is disconnected
    commands_per_second: float = 20.0  # per session; the burst is twice that
    login_failure_delay: float = 1.0  # seconds, doubled for each recent failure from one address
    hash_threads: int = 2
    #: Seconds in one minute of mutes, silences and the per-minute channel limits (tests
    #: shorten it; the end of a mute is kept as a wall-clock time).
    minute_seconds: float = 60.0
    channel_rate_limits: bool = True  # RULES.md's lines-per-minute limits on the channels
    #: How much faster than real time NPC, combat, health and corpse clocks run (rounds,
    #: wandering, respawn, bleeding, corpse looting and decay; rules/combat.py). Tests raise it.
    time_scale: float = Field(default=1.0, gt=0)
    #: Spawn the world's NPCs at start-up (tests of other things may turn it off).
    npcs: bool = True
    #: Mythos time (rules/mythostime.py): Mythos hours per real hour, and optionally the
    #: Mythos date and time at start-up ("1930-03-14T05:59"; default: the reference epoch).
    mythos_time_rate: float = 9.6
    mythos_time_start: str | None = None
    lucidity_seconds: float = 6.0  # real seconds between passive flux ticks (tests shorten it)
    #: When set, the chance of every lucidity tier effect (tests make them certain with 1.0).
    lucidity_effect_chance: float | None = None
    web_ticket_seconds: float = 30.0  # life of the one-use token the browser's login hands /ws

    # Beyond one process (docs/DEPLOYMENT.md): gateways and the world over NATS
    nats_url: str = "nats://127.0.0.1:4222"  # credentials go in the URL: nats://user:pw@host
    #: First token of every subject: games sharing one NATS server keep apart by it.
    bus_prefix: str = "mythos"
    #: Shared secret every message between gateways and the world carries; messages without
    #: it are dropped. Set it whenever anyone but the game can reach the NATS server.
    bus_token: str = ""
    gateway_name: str = "gw"  # a gateway's name in logs and subjects (a random suffix is added)

    # Operations
    #: The event loop: uvloop (libuv, in C: socket reads and writes, timers and the loop's own
    #: bookkeeping cost a fraction of the standard library's) where it is installed, which is
    #: everywhere but Windows; "asyncio" for the standard library's.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    shutdown_grace: float = 10.0

    # Limits and security (docs/RELIABILITY.md)
    max_connections: int = 10000  # sessions in total (telnet and WebSocket)
    max_connections_per_address: int = 50  # sessions from one IP address
    login_idle_timeout: float = 120.0  # seconds on the login screen without input
    idle_timeout: float = 3600.0  # seconds in the game without input (0: never)
    #: Seconds an HTTP connection may go without a complete request (from connect, and
    #: between keep-alive requests): a slow-loris client trickling its headers is cut off.
    http_idle_timeout: float = 15.0
    metrics_token: str = ""  # if set, /metrics wants "Authorization: Bearer <token>"
    metrics_loopback_only: bool = False  # /metrics answers only clients on this machine
    #: Reverse proxies in front of the web port, as addresses or networks ("127.0.0.1",
    #: "10.0.0.0/8"; in the environment comma-separated): a request from one of them is taken
    #: to come from the address its X-Forwarded-For names (the nearest that is not itself such
    #: a proxy), over the scheme its X-Forwarded-Proto names (``net/forwarded.py``). Empty:
    #: those headers are ignored, as anyone can send them.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    argon2_time_cost: int = 3  # argon2id parameters for new password hashes
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            value = [str(v).strip() for v in value]
            for entry in value:
                try:
                    ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an address or a network (such as "
                                     "127.0.0.1 or 10.0.0.0/8)") from None
        return value

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
        return f"sqlite:///{self.data_dir / 'mythos.db'}"
