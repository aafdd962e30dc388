"""Stage 4 — studies: the registry of declared studies, profiles, and the runner."""

from bench.studies.catalog import REGISTRY
from bench.studies.registry import PROFILES, Factor, Profile, Stage, Study, get_profile

__all__ = ["PROFILES", "REGISTRY", "Factor", "Profile", "Stage", "Study", "get_profile"]
