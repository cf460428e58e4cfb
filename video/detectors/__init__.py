"""Recognition types (V7-V17), one module each, and the factory the analyser and worker use.

algo = make("crowding", zones=[zone], params={"max_persons": 3})
algo = make("forklift_in_zone", plugins=[load_manifest(Path("forklift.toml"))])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hazwatch.errors import HazwatchError
from video.detectors.base import Algorithm, Finding, Params
from video.detectors.fire_smoke import Fire, Smoke
from video.detectors.persons import Crowding, Intrusion, OffPost
from video.detectors.phone_call import PhoneCall
from video.detectors.plugin import PluginAlgorithm, PluginSpec
from video.detectors.ppe import NoHelmet, NoUniform
from video.detectors.sleeping import Sleeping
from video.detectors.smoking import Smoking
from video.zones import Zone

BUILTIN: dict[str, type[Algorithm]] = {
    cls.type: cls
    for cls in (
        Fire,
        Smoke,
        Intrusion,
        OffPost,
        Sleeping,
        Crowding,
        PhoneCall,
        Smoking,
        NoHelmet,
        NoUniform,
    )
}

__all__ = ["BUILTIN", "Algorithm", "Finding", "Params", "make"]


def make(
    name: str,
    zones: list[Zone] | None = None,
    params: dict[str, Any] | None = None,
    plugins: Sequence[PluginSpec] = (),
) -> Algorithm:
    if name in BUILTIN:
        return BUILTIN[name](zones, params)
    for spec in plugins:
        if spec.manifest.name == name:
            return PluginAlgorithm(spec, zones, params)
    known = sorted([*BUILTIN, *(s.manifest.name for s in plugins)])
    raise HazwatchError(f"unknown algorithm {name!r}; known: {', '.join(known)}")
