"""What the social side keeps: mutes, aliases, staff silences and the staff audit log.

Tables on the shared ``metadata`` (migration ``0003_social``) and ``SocialStore``, the narrow
interface the engine's ``Social`` uses. Every write is one short transaction on the writer
engine, awaited by the command that made it, so a change is kept before the player is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .db import Engines
from .store import AccountRow, Store
from .tables import UTCDateTime, accounts, characters, metadata, name_key, utcnow

mutes = sa.Table(
    "mutes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("character_id", sa.Integer,
              sa.ForeignKey("characters.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # "player" | "channel"
    sa.Column("target", sa.String(64), nullable=False),  # a character's name key | a channel
    sa.Column("until", UTCDateTime, nullable=True),  # None: until unmuted
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow,
              server_default=sa.text("CURRENT_TIMESTAMP")),
    sa.UniqueConstraint("character_id", "kind", "target",
                        name="uq_mutes_character_id_kind_target"),
    sqlite_autoincrement=True,
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("character_id", sa.Integer,
              sa.ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("command", sa.Text, nullable=False),
)

silences = sa.Table(
    "silences",
    metadata,
    sa.Column("character_id", sa.Integer,
              sa.ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("until", UTCDateTime, nullable=True),  # None: until a staff member lifts it
    sa.Column("by_name", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow,
              server_default=sa.text("CURRENT_TIMESTAMP")),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow,
              server_default=sa.text("CURRENT_TIMESTAMP"), index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(128), nullable=True),
    sa.Column("details", sa.JSON, nullable=True),
    sqlite_autoincrement=True,
)


@dataclass(frozen=True)
class MuteRow:
    kind: str
    target: str
    until: datetime | None


@dataclass(frozen=True)
class SilenceRow:
    until: datetime | None
    by_name: str


@dataclass(frozen=True)
class SocialRows:
    """Everything social kept for one character, read at login."""

    character_id: int = 0
    aliases: dict[str, str] = field(default_factory=dict)
    mutes: list[MuteRow] = field(default_factory=list)
    silence: SilenceRow | None = None
    #: Mutes or a silence whose time is up, still in the database (see ``delete_expired``).
    expired: int = 0


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any] | None


class SocialStore:
    """Reads and writes of the social tables. Make one with ``SocialStore.of(store)``."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines

    @classmethod
    def of(cls, store: Store) -> SocialStore:
        return cls(store.engines)

    # -- login ------------------------------------------------------------------------------

    async def load_by_name(self, name: str, now: datetime) -> SocialRows | None:
        """``load`` for the character called ``name``; None when there is none."""
        def run(conn: Connection) -> int | None:
            return conn.execute(sa.select(characters.c.id).where(
                characters.c.name_key == name_key(name))).scalar()

        cid = await self._engines.read(run)
        return None if cid is None else await self.load(cid, now)

    async def load(self, character_id: int, now: datetime) -> SocialRows:
        """The aliases, unexpired mutes and silence of a character (expired ones are left out;
        ``delete_expired`` removes them)."""
        def run(conn: Connection) -> tuple[Any, Any, Any]:
            alias_rows = conn.execute(
                sa.select(aliases.c.name, aliases.c.command)
                .where(aliases.c.character_id == character_id)
                .order_by(aliases.c.name)).all()
            mute_rows = conn.execute(
                sa.select(mutes.c.kind, mutes.c.target, mutes.c.until)
                .where(mutes.c.character_id == character_id)
                .order_by(mutes.c.id)).all()
            silence = conn.execute(
                sa.select(silences.c.until, silences.c.by_name)
                .where(silences.c.character_id == character_id)).first()
            return alias_rows, mute_rows, silence

        alias_rows, mute_rows, silence = await self._engines.read(run)
        live = [MuteRow(r.kind, r.target, r.until) for r in mute_rows
                if r.until is None or r.until > now]
        silence_live = silence is not None and (silence.until is None or silence.until > now)
        return SocialRows(
            character_id=character_id,
            aliases={r.name: r.command for r in alias_rows},
            mutes=live,
            silence=SilenceRow(silence.until, silence.by_name) if silence_live else None,
            expired=len(mute_rows) - len(live) + (silence is not None and not silence_live))

    async def delete_expired(self, character_id: int, now: datetime) -> None:
        """Drop the mutes and silence of ``character_id`` whose time is up."""
        await self._engines.execute(
            sa.delete(mutes).where(
                mutes.c.character_id == character_id, mutes.c.until.is_not(None),
                mutes.c.until <= now),
            sa.delete(silences).where(
                silences.c.character_id == character_id, silences.c.until.is_not(None),
                silences.c.until <= now))

    # -- aliases ----------------------------------------------------------------------------

    async def put_alias(self, character_id: int, name: str, command: str) -> None:
        await self._engines.execute(
            sa.delete(aliases).where(
                aliases.c.character_id == character_id, aliases.c.name == name),
            sa.insert(aliases).values(character_id=character_id, name=name, command=command))

    async def delete_alias(self, character_id: int, name: str) -> bool:
        return await self._engines.execute(sa.delete(aliases).where(
            aliases.c.character_id == character_id, aliases.c.name == name)) > 0

    # -- mutes ------------------------------------------------------------------------------

    async def put_mute(self, character_id: int, kind: str, target: str,
                       until: datetime | None) -> None:
        await self._engines.execute(
            sa.delete(mutes).where(
                mutes.c.character_id == character_id, mutes.c.kind == kind,
                mutes.c.target == target),
            sa.insert(mutes).values(
                character_id=character_id, kind=kind, target=target, until=until))

    async def delete_mute(self, character_id: int, kind: str, target: str) -> bool:
        return await self._engines.execute(sa.delete(mutes).where(
            mutes.c.character_id == character_id, mutes.c.kind == kind,
            mutes.c.target == target)) > 0

    # -- silences ---------------------------------------------------------------------------

    async def put_silence(self, character_id: int, until: datetime | None, by_name: str) -> None:
        await self._engines.execute(
            sa.delete(silences).where(silences.c.character_id == character_id),
            sa.insert(silences).values(character_id=character_id, until=until, by_name=by_name))

    async def delete_silence(self, character_id: int) -> bool:
        return await self._engines.execute(sa.delete(silences).where(
            silences.c.character_id == character_id)) > 0

    # -- staff ------------------------------------------------------------------------------

    async def audit(self, actor: str, action: str, target: str | None = None,
                    details: dict[str, Any] | None = None) -> int:
        """Write one row of the audit log; its id."""
        def run(conn: Connection) -> int:
            return int(conn.execute(sa.insert(audit_log).values(
                at=utcnow(), actor=actor, action=action, target=target,
                details=details)).inserted_primary_key[0])

        return await self._engines.write(run)

    async def recent_audit(self, limit: int = 20) -> list[AuditRow]:
        """The newest ``limit`` rows of the audit log, newest first."""
        def run(conn: Connection) -> list[AuditRow]:
            rows = conn.execute(
                sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).all()
            return [AuditRow(r.id, r.at, r.actor, r.action, r.target, r.details) for r in rows]

        return await self._engines.read(run)

    async def account_by_id(self, account_id: int) -> AccountRow | None:
        def run(conn: Connection) -> AccountRow | None:
            row = conn.execute(
                sa.select(accounts.c.id, accounts.c.name, accounts.c.password_hash,
                          accounts.c.role, accounts.c.banned)
                .where(accounts.c.id == account_id)).first()
            if row is None:
                return None
            return AccountRow(id=row.id, name=row.name, password_hash=row.password_hash,
                              role=row.role, banned=bool(row.banned))

        return await self._engines.read(run)

    async def set_stats(self, character_id: int, stats: dict[str, int]) -> bool:
        """Replace a character's stats (strength ...: fixed at creation, changed by staff)."""
        return await self._engines.execute(
            sa.update(characters).where(characters.c.id == character_id)
            .values(stats=dict(stats))) == 1
