"""The base of every approach's settings: one pydantic model per approach (approaches/).

Each field is one knob with its one default, bounds and description. The CLI's flags, the TOML
config keys and the app's form are made from these fields, so a default is written once, here
or in the approach's own Config.
"""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ApproachConfig(BaseModel):
    """Fields marked `json_schema_extra={"form": True}` are shown in the app's Home form; every
    field is a CLI flag (--name-with-dashes) and a TOML key (name_with_underscores)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # `--epochs inf` is a mistake, not a setting
    QUICK: ClassVar[dict[str, Any]] = {}  # the quick profile (demo, CI): its changes to the defaults

    @classmethod
    def profile(cls, quick: bool = False, **values) -> "ApproachConfig":
        """The defaults (or the quick profile), overridden by `values`."""
        return cls(**{**(cls.QUICK if quick else {}), **values})

    @classmethod
    def default_of(cls, name: str, quick: bool = False):
        """A field's default in the full or the quick profile (what help texts and forms show)."""
        return cls.QUICK[name] if quick and name in cls.QUICK else cls.model_fields[name].default


class NoConfig(ApproachConfig):
    """An approach with nothing to set."""


FORM = {"form": True}  # json_schema_extra of a field the app's Home form shows
