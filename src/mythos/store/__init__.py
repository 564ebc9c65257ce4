"""Storage: the only package that talks to the database.

``Store`` is the narrow interface the game uses; ``WriteBehind`` saves character progress in the
background; ``upgrade`` runs the Alembic migrations (sync, before the loop or via a thread).
"""

from .db import DatabaseUnavailable, Engines, mask_url, open_engines
from .items import ItemConflict, ItemRow, ItemStore
from .migrate import current, upgrade
from .mind import MindRows, MindSave, MindStore
from .npcs import NpcStore
from .social import SocialStore
from .store import AccountRow, CharacterRow, NameTaken, ProgressRow, Store
from .tables import accounts, characters, metadata, name_key
from .writebehind import WriteBehind

__all__ = [
    "AccountRow",
    "CharacterRow",
    "DatabaseUnavailable",
    "Engines",
    "ItemConflict",
    "ItemRow",
    "ItemStore",
    "MindRows",
    "MindSave",
    "MindStore",
    "NameTaken",
    "NpcStore",
    "ProgressRow",
    "SocialStore",
    "Store",
    "WriteBehind",
    "accounts",
    "characters",
    "current",
    "mask_url",
    "metadata",
    "name_key",
    "open_engines",
    "upgrade",
]
