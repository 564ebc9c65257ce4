"""The game world: the in-memory model and the loader of the world files."""

from mythos.world.loader import Problem, WorldError, check_world, load_world

__all__ = ["Problem", "WorldError", "check_world", "load_world"]
