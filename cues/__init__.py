"""Subtitle cues: built from timed words to a broadcaster's style profile, checked against it,
and written in the usual formats. Pure: no store, no engine, no Prefect."""

from ._model import Cue
from ._profile import PROFILES, Profile, ProfileError, profile_for

__all__ = ["PROFILES", "Cue", "Profile", "ProfileError", "profile_for"]
