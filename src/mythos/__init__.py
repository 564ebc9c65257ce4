"""Mythos: a multi-user dungeon set in Lovecraft's Arkham of the 1920s."""

__version__ = "0.1.0"
