"""Offline analysis of a video file: the events the worker would raise, for evaluation.

    result = analyze(Path("vtest.avi"), ["intrusion"], [parse_zone("door=...")], home=home,
                     every=2, counts=True, snapshot_dir=Path("out"))
    result.events        # [Event(type="intrusion", zone="door", start_frame=..., ...)]
    result.frames        # [{"index": 0, "time": 0.0, "persons": 4}, ...] with counts=True
    result.to_json()

Video loss (a recording that stops before its header's frame count) is an event too.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hazwatch.errors import HazwatchError
from video.detectors import make
from video.detectors.plugin import PluginSpec
from video.frame_context import ModelHub
from video.inference import BackendName
from video.pipeline import AlarmChange, StreamPipeline
from video.snapshots import save_snapshot
from video.sources import FileSource, Frame, SourceEvent
from video.zones import Zone, check_fits


@dataclass
class Event:
    type: str
    zone: str | None
    start_frame: int
    end_frame: int | None
    start_time: float
    end_time: float | None
    raised_frame: int
    confidence: str = "normal"
    score: float = 0.0
    detail: str = ""
    snapshot: str | None = None


@dataclass
class Analysis:
    source: str
    width: int
    height: int
    fps: float
    codec: str
    every: int
    frames_analysed: int = 0
    frames_decoded: int = 0
    seconds: float = 0.0
    events: list[Event] = field(default_factory=list)
    frames: list[dict[str, Any]] | None = None
    inference_runs: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.frames is None:
            out.pop("frames")
        return out


def analyze(
    path: Path,
    algorithms: list[str],
    zones: list[Zone],
    home: Path,
    every: int = 1,
    counts: bool = False,
    snapshot_dir: Path | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    plugins: list[PluginSpec] | tuple[PluginSpec, ...] = (),
    backend: BackendName = "auto",
    limit: int | None = None,
    hub: ModelHub | None = None,
) -> Analysis:
    if not algorithms and not counts:
        raise HazwatchError("nothing to do: give --algorithms and/or --counts")
    params = params or {}
    unused = set(params) - set(algorithms)
    if unused:
        raise HazwatchError(f"parameters given for {sorted(unused)}, which are not analysed")
    source = FileSource(path)
    for zone in zones:
        check_fits(zone, source.width, source.height)
    algos = [make(name, list(zones), params.get(name), plugins) for name in algorithms]
    hub = hub or ModelHub(home, backend)
    pipe = StreamPipeline(algos, hub, snapshots=snapshot_dir is not None)
    result = Analysis(
        str(path),
        source.width,
        source.height,
        source.fps,
        source.codec,
        every,
        frames=[] if counts else None,
    )
    open_events: dict[tuple[str, str], Event] = {}
    started = time.perf_counter()
    last: Frame | None = None
    for item in source.items(every=every, limit=limit):
        if isinstance(item, SourceEvent):
            if item.kind == "end":
                t = last.time if last else 0.0
                changes = pipe.finish(t, last.index if last else 0)
                _record(changes, open_events, result, snapshot_dir)
            else:
                result.events.append(
                    Event(
                        item.kind,
                        None,
                        item.frame_index + 1,
                        item.frame_index + 1,
                        item.time,
                        item.time,
                        item.frame_index + 1,
                        detail=item.detail,
                    )
                )
            continue
        last = item
        result.frames_analysed += 1
        changes = pipe.process(item)
        _record(changes, open_events, result, snapshot_dir)
        if result.frames is not None and pipe.last is not None:
            result.frames.append(
                {
                    "index": item.index,
                    "time": round(item.time, 3),
                    "persons": len(pipe.last.persons()),
                }
            )
    result.frames_decoded = source.decoded
    result.seconds = round(time.perf_counter() - started, 3)
    result.inference_runs = dict(hub.runs)
    result.events.sort(key=lambda e: (e.start_frame, e.type))
    return result


def _record(
    changes: list[AlarmChange],
    open_events: dict[tuple[str, str], Event],
    result: Analysis,
    snapshot_dir: Path | None,
) -> None:
    for ch in changes:
        key = (ch.type, ch.zone)
        if ch.kind == "raised":
            snap = None
            if snapshot_dir is not None and ch.snapshot is not None:
                stem = f"{ch.type}-{ch.zone}-{ch.at_frame:06d}"
                snap = str(save_snapshot(snapshot_dir, stem, ch.snapshot))
            event = Event(
                ch.type,
                ch.zone,
                ch.start_frame,
                None,
                round(ch.start_time, 3),
                None,
                ch.at_frame,
                ch.confidence,
                round(ch.score, 3),
                ch.detail,
                snap,
            )
            open_events[key] = event
            result.events.append(event)
        elif key in open_events:
            event = open_events.pop(key)
            event.end_frame, event.end_time = ch.end_frame, round(ch.end_time, 3)


def parse_settings(items: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``--set ALGO.KEY=VALUE`` options to per-algorithm parameters (numbers parsed).

    >>> parse_settings(("crowding.max_persons=3", "no_helmet.colours=red,yellow"))
    {'crowding': {'max_persons': 3}, 'no_helmet': {'colours': 'red,yellow'}}
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        algo, dot, name = key.partition(".")
        if not eq or not dot or not algo or not name:
            raise HazwatchError(f"--set {item!r}: expected ALGORITHM.PARAMETER=VALUE")
        parsed: Any = value
        for conv in (int, float):
            try:
                parsed = conv(value)
                break
            except ValueError:
                continue
        out.setdefault(algo, {})[name] = parsed
    return out
