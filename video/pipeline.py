"""One stream's analysis: each decoded frame goes once through every algorithm of the stream,
the findings through the alarm timing, and raised alarms get their snapshot.

    pipe = StreamPipeline([make("intrusion", [zone])], ModelHub(home))
    for change in pipe.process(frame):       # AlarmChange: raised / cleared
        ...
    pipe.finish(frame.time, frame.index)     # closes alarms still open when the stream ends

The worker (one process, many streams) gives every pipeline the same ModelHub, so models are
loaded once per node; the analyser CLI uses one pipeline over a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from video import alarm_state
from video.detectors.base import Algorithm, Finding
from video.frame_context import FrameContext, ModelHub, StreamState
from video.snapshots import snapshot_jpeg
from video.sources import Frame


@dataclass(frozen=True)
class AlarmChange:
    kind: str  # "raised" | "cleared"
    type: str
    zone: str
    confidence: str
    at_frame: int
    at_time: float
    start_frame: int
    start_time: float
    end_frame: int
    end_time: float
    score: float = 0.0
    detail: str = ""
    reason: str = ""
    snapshot: bytes | None = field(default=None, repr=False)


class StreamPipeline:
    def __init__(self, algorithms: list[Algorithm], hub: ModelHub, snapshots: bool = True) -> None:
        self.algorithms, self.hub, self.snapshots = algorithms, hub, snapshots
        self.stream = StreamState()
        self.states: dict[tuple[str, str], alarm_state.State] = {}
        self.last: FrameContext | None = None

    def process(self, frame: Frame) -> list[AlarmChange]:
        ctx = FrameContext(frame, self.hub, self.stream)
        self.last = ctx
        changes = []
        for algo in self.algorithms:
            timing = algo.timing()
            for finding in algo.evaluate(ctx):
                key = (algo.type, finding.zone)
                state = self.states.get(key, alarm_state.IDLE)
                state, change = alarm_state.step(
                    state, timing, frame.time, finding.holds, frame.index
                )
                self.states[key] = state
                if change is not None:
                    changes.append(self._change(algo, finding, change, ctx))
        return changes

    def _change(
        self, algo: Algorithm, finding: Finding, change: alarm_state.Change, ctx: FrameContext
    ) -> AlarmChange:
        jpeg = None
        if change.kind == "raised" and self.snapshots:
            zones = [z for z in algo.zones_for(ctx) if z.name == finding.zone]
            title = f"{algo.type} {finding.zone} frame {ctx.frame.index}"
            jpeg = snapshot_jpeg(ctx.image, zones, finding.boxes, title)
        return AlarmChange(
            kind=change.kind,
            type=algo.type,
            zone=finding.zone,
            confidence=algo.confidence,
            at_frame=ctx.frame.index,
            at_time=change.at,
            start_frame=change.start_ref,
            start_time=change.start,
            end_frame=change.end_ref,
            end_time=change.end,
            score=finding.score,
            detail=finding.detail,
            reason=change.reason,
            snapshot=jpeg,
        )

    def finish(self, t: float, frame_index: int) -> list[AlarmChange]:
        changes = []
        for (type_, zone), state in list(self.states.items()):
            _, change = alarm_state.finish(state, t)
            self.states[(type_, zone)] = alarm_state.IDLE
            if change is None:
                continue
            algo = next(a for a in self.algorithms if a.type == type_)
            changes.append(
                AlarmChange(
                    kind="cleared",
                    type=type_,
                    zone=zone,
                    confidence=algo.confidence,
                    at_frame=frame_index,
                    at_time=t,
                    start_frame=change.start_ref,
                    start_time=change.start,
                    end_frame=change.end_ref,
                    end_time=change.end,
                    reason=change.reason,
                )
            )
        return changes
