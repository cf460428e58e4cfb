"""``hazwatch video run``: the analysis worker (V1, V4, V18). It takes tasks from the database
with leases, runs one ``StreamPipeline`` per stream on its own thread (models shared by every
stream of the process through one ``ModelHub``), and writes alarms, events and status.

    worker = Worker(db_url, home, WorkerOptions(name="edge1:4242", lease_s=15))
    worker.run(stop)            # until ``stop`` (threading.Event) is set; leases given back

Each control cycle (a third of the lease) renews the leases, stops streams whose lease was
lost or whose task was disabled, claims free tasks up to a fair share, and restarts only the
streams whose configuration changed (an algorithm upgraded, a zone redrawn): the other streams
keep running (V3). A stream that fails is restarted on a later cycle; a live stream reconnects
by itself and reports video loss and camera offline as events.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import psycopg

from hazwatch.errors import HazwatchError
from video import leases, store
from video.crypto import CredentialBox, redact
from video.frame_context import ModelHub
from video.pipeline import AlarmChange, StreamPipeline
from video.sources import FileSource, Frame, LiveSource, SourceEvent
from video.tasks import TaskConfig, file_path, is_file_source, load_task

log = logging.getLogger("hazwatch.video.worker")
TZ = ZoneInfo("Asia/Shanghai")
#: How often a stream re-checks which of its algorithms are scheduled now.
SCHEDULE_CHECK_S = 30.0


@dataclass(frozen=True)
class WorkerOptions:
    name: str
    lease_s: float = 15.0
    capacity: int = 8
    node_id: int | None = None
    enterprise_id: int | None = None
    #: Play files at their own speed (a camera stand-in); False analyses them as fast as it can.
    pace: bool = True
    offline_after_s: float = 30.0
    retry_s: float = 2.0
    live_every_s: float = 2.0
    backend: str = "auto"


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def analysis_step(fps: float, max_fps: float) -> int:
    """Analyse every n-th frame of a file so that at most ``max_fps`` frames a second go in.

    >>> analysis_step(10, 2), analysis_step(25, 30), analysis_step(25, 4)
    (5, 1, 7)
    """
    return max(1, round(fps / max_fps)) if max_fps > 0 else 1


def should_analyse(t: float, last: float | None, max_fps: float) -> bool:
    """Back-pressure for live streams: drop a frame that comes sooner than 1/max_fps after the
    last analysed one (the decoder already keeps only the newest frame).

    >>> should_analyse(1.0, None, 2), should_analyse(1.2, 1.0, 2), should_analyse(1.5, 1.0, 2)
    (True, False, True)
    """
    return last is None or t - last >= 1.0 / max_fps - 1e-6


def file_items(
    path: Path, max_fps: float, loop: bool, pace: bool, stop: threading.Event
) -> Iterator[Frame | SourceEvent | None]:
    """A recorded file as a stream: frames on a timeline that keeps growing across loops (the
    alarm timing needs non-decreasing times), paced to real time when ``pace``. Paced like a
    camera, it drops (yields None for) a frame the analysis is already too late for, as a live
    source would, instead of falling further behind the footage."""
    offset_t, offset_i = 0.0, 0
    t0 = time.monotonic()
    while not stop.is_set():
        src = FileSource(path)
        step = analysis_step(src.fps, max_fps)
        last_t, last_i = 0.0, -1
        for item in src.items(every=step):
            if stop.is_set():
                src.close()
                return
            if isinstance(item, SourceEvent):
                if item.kind == "end" and loop:
                    continue
                yield SourceEvent(
                    item.kind, item.time + offset_t, item.frame_index + offset_i, item.detail
                )
                continue
            last_t, last_i = item.time, item.index
            frame = Frame(item.index + offset_i, item.time + offset_t, item.image, item.source)
            if pace:
                delay = t0 + frame.time - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    return
                if -delay > step / src.fps:  # later than the next analysed frame: skip it
                    yield None
                    continue
            yield frame
        if not loop:
            return
        offset_t += last_t + 1.0 / src.fps
        offset_i += last_i + 1


class StreamRunner(threading.Thread):
    """One task's stream: decode, analyse, record. Stopped with ``stop()``."""

    def __init__(
        self, db_url: str, home: Path, cfg: TaskConfig, hub: ModelHub, opts: WorkerOptions
    ) -> None:
        super().__init__(name=f"video task {cfg.task_id}", daemon=True)
        self.db_url, self.home, self.cfg, self.hub, self.opts = db_url, home, cfg, hub, opts
        self.stopping = threading.Event()
        self.ended = False
        self.failed: str | None = None
        self.frames = self.dropped = self.alarms = 0
        self.started_wall = datetime.now(UTC)

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        try:
            with psycopg.connect(
                self.db_url, autocommit=True, application_name="hazwatch-video"
            ) as conn:
                try:
                    self._run(conn)
                except (HazwatchError, cv2.error, OSError, psycopg.DatabaseError) as exc:
                    # Restarted by the worker's next cycle; the page shows why it stopped.
                    self.failed = str(exc)
                    log.error(
                        "task %s (%s): %s", self.cfg.task_id, redact(self.cfg.display_url), exc
                    )
                    if not isinstance(exc, psycopg.OperationalError):
                        store.update_status(
                            conn, self.cfg.task_id, self.opts.name, "error", str(exc)[:500]
                        )
        except psycopg.OperationalError as exc:
            self.failed = f"database: {exc}"
            log.error("task %s: database unreachable: %s", self.cfg.task_id, exc)

    # -- the stream loop ----------------------------------------------------------------

    def _items(self) -> tuple[Iterator[Frame | SourceEvent | None], LiveSource | None]:
        if is_file_source(self.cfg.url):
            items = file_items(
                file_path(self.cfg.url),
                self.cfg.max_fps,
                self.cfg.loop_file,
                self.opts.pace,
                self.stopping,
            )
            return items, None
        live = LiveSource(
            self.cfg.url, offline_after_s=self.opts.offline_after_s, retry_s=self.opts.retry_s
        ).start()

        def gen() -> Iterator[Frame | SourceEvent | None]:
            while not self.stopping.is_set():
                item = live.get(timeout=0.5)
                if item is not None:
                    yield item

        return gen(), live

    def _run(self, conn: psycopg.Connection) -> None:
        cfg, opts = self.cfg, self.opts
        # A worker that died left its alarms open: the analysis starts afresh, so close them.
        conn.execute(
            "UPDATE video.alarm SET cleared_at = greatest(now(), started_at),"
            " clear_reason = 'analysis restarted' WHERE task_id = %s AND cleared_at IS NULL",
            (cfg.task_id,),
        )
        store.update_status(conn, cfg.task_id, opts.name, "starting", redact(cfg.display_url))
        active = cfg.active(datetime.now(TZ))
        pipe = StreamPipeline(cfg.build(datetime.now(TZ)), self.hub)
        items, live = self._items()
        self.started_wall = t0 = datetime.now(UTC)
        last_analysed: float | None = None
        last_live = last_status = last_sched = 0.0
        analysed_at: list[float] = []
        state, detail = "running", ""
        last: Frame | None = None
        try:
            for item in items:
                if self.stopping.is_set():
                    break
                now_m = time.monotonic()
                if item is None:  # a file frame dropped for being late (back-pressure)
                    self.dropped += 1
                    continue
                if isinstance(item, SourceEvent):
                    wall = t0 + timedelta(seconds=item.time)
                    if item.kind == "end":
                        self._record(conn, pipe.finish(item.time, item.frame_index), t0)
                        self.ended, state, detail = True, "ended", item.detail
                        break
                    store.record_source_event(conn, cfg, item.kind, wall, item.detail)
                    state = "running" if item.kind == "restored" else item.kind
                    detail = item.detail
                    store.update_status(
                        conn,
                        cfg.task_id,
                        opts.name,
                        state,
                        detail,
                        frames=self.frames,
                        dropped=self._dropped(live),
                    )
                    continue
                if live is not None and not should_analyse(item.time, last_analysed, cfg.max_fps):
                    self.dropped += 1
                    continue
                last_analysed, last = item.time, item
                if now_m - last_sched >= SCHEDULE_CHECK_S:
                    last_sched = now_m
                    now_active = cfg.active(datetime.now(TZ))
                    if now_active != active:  # a schedule window opened or closed
                        self._record(conn, pipe.finish(item.time, item.index), t0)
                        active = now_active
                        pipe = StreamPipeline(cfg.build(datetime.now(TZ)), self.hub)
                self._record(conn, pipe.process(item), t0)
                self.frames += 1
                analysed_at.append(now_m)
                if now_m - last_live >= opts.live_every_s:
                    last_live = now_m
                    live_path = store.save_live(self.home, cfg.task_id, _preview(item))
                    analysed_at = [a for a in analysed_at if a > now_m - 10]
                    fps = len(analysed_at) / min(10.0, max(0.5, now_m - analysed_at[0]))
                    store.update_status(
                        conn,
                        cfg.task_id,
                        opts.name,
                        state,
                        detail,
                        frames=self.frames,
                        dropped=self._dropped(live),
                        fps=round(fps, 2),
                        last_frame_at=t0 + timedelta(seconds=item.time),
                        live_path=live_path,
                    )
                    last_status = now_m
                elif now_m - last_status >= 5:
                    last_status = now_m
                    store.update_status(
                        conn,
                        cfg.task_id,
                        opts.name,
                        state,
                        detail,
                        frames=self.frames,
                        dropped=self._dropped(live),
                    )
        finally:
            if live is not None:
                live.stop()
        if not self.ended and last is not None:
            self._record(conn, pipe.finish(last.time, last.index), t0, "analysis stopped")
        if last is not None:
            store.save_live(self.home, cfg.task_id, _preview(last))
        store.update_status(
            conn,
            cfg.task_id,
            opts.name,
            "ended" if self.ended else "stopped",
            detail,
            frames=self.frames,
            dropped=self._dropped(live),
        )

    def _dropped(self, live: LiveSource | None) -> int:
        return self.dropped + (live.stats.dropped if live is not None else 0)

    def _record(
        self,
        conn: psycopg.Connection,
        changes: list[AlarmChange],
        t0: datetime,
        reason: str | None = None,
    ) -> None:
        for ch in changes:
            wall = t0 + timedelta(seconds=ch.at_time)
            if ch.kind == "raised":
                algo = next((a.label for a in self.cfg.algorithms if a.code == ch.type), ch.type)
                started = t0 + timedelta(seconds=ch.start_time)
                store.record_raise(conn, self.home, self.cfg, ch, wall, started, algo)
                self.alarms += 1
                log.info("task %s: %s raised in zone %s", self.cfg.task_id, ch.type, ch.zone)
            else:
                store.record_clear(
                    conn, self.cfg, ch.type, ch.zone, wall, reason or ch.reason or "condition gone"
                )


def _preview(frame: Frame, width: int = 640) -> bytes:
    image = frame.image
    if image.shape[1] > width:
        scale = width / image.shape[1]
        image = cv2.resize(image, (width, round(image.shape[0] * scale)))
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 75])
    if not ok:
        raise HazwatchError("JPEG encoding of the live picture failed")
    return buf.tobytes()


class Worker:
    def __init__(
        self, db_url: str, home: Path, opts: WorkerOptions, hub: ModelHub | None = None
    ) -> None:
        self.db_url, self.home, self.opts = db_url, home, opts
        self.hub = hub or ModelHub(home, opts.backend)  # type: ignore[arg-type]
        self.box = CredentialBox.for_home(home)
        self.runners: dict[int, StreamRunner] = {}
        self.cycles = 0

    def run(self, stop: threading.Event) -> None:
        """Cycle until ``stop``. A lost database is waited for: streams keep analysing, but
        leases are not renewed, so another worker may take over what this one cannot hold."""
        period = max(0.2, self.opts.lease_s / 3)
        conn: psycopg.Connection | None = None
        try:
            while not stop.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(
                            self.db_url, autocommit=True, application_name="hazwatch-video"
                        )
                    self.cycle(conn)
                except psycopg.OperationalError as exc:
                    log.error("database unreachable, retrying: %s", exc)
                    if conn is not None:
                        conn.close()
                    conn = None
                stop.wait(period)
        finally:
            for task_id in list(self.runners):
                self._stop(task_id)
            if conn is not None and not conn.closed:
                self.shutdown(conn)
                conn.close()

    def cycle(self, conn: psycopg.Connection) -> None:
        """One control step: heartbeat, renew, stop lost streams, claim, (re)start streams."""
        o = self.opts
        stats = {
            str(t): {"frames": r.frames, "dropped": r.dropped, "alarms": r.alarms}
            for t, r in self.runners.items()
        }
        leases.heartbeat(
            conn,
            o.name,
            node_id=o.node_id,
            enterprise_id=o.enterprise_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            stats=json.dumps({"tasks": stats, "models": dict(self.hub.runs)}),
        )
        held = leases.renew(conn, o.name, o.lease_s)
        extra = leases.surplus(
            conn,
            o.name,
            lease_s=o.lease_s,
            capacity=o.capacity,
            node_id=o.node_id,
            enterprise_id=o.enterprise_id,
        )
        if extra:  # more workers are alive now: give them their share
            for task_id in extra:
                self._stop(task_id)
            leases.release(conn, o.name, extra)
            held -= set(extra)
        for task_id in [t for t in self.runners if t not in held]:
            log.warning("task %s: lease lost or task disabled; stopping its stream", task_id)
            self._stop(task_id)
        held |= set(
            leases.claim(
                conn,
                o.name,
                lease_s=o.lease_s,
                capacity=o.capacity,
                node_id=o.node_id,
                enterprise_id=o.enterprise_id,
            )
        )
        for task_id in sorted(held):
            try:
                cfg = load_task(conn, task_id, self.box)
            except HazwatchError as exc:
                store.update_status(conn, task_id, o.name, "error", str(exc)[:500])
                self._stop(task_id)
                continue
            runner = self.runners.get(task_id)
            unchanged = runner is not None and runner.cfg.fingerprint == cfg.fingerprint
            if unchanged and runner is not None and (runner.is_alive() or runner.ended):
                continue
            if runner is not None:
                log.info("task %s: configuration changed or stream stopped; restarting", task_id)
                self._stop(task_id)
            runner = StreamRunner(self.db_url, self.home, cfg, self.hub, o)
            self.runners[task_id] = runner
            runner.start()
        self.cycles += 1

    def _stop(self, task_id: int) -> None:
        runner = self.runners.pop(task_id, None)
        if runner is not None:
            runner.stop()
            runner.join(timeout=30)

    def shutdown(self, conn: psycopg.Connection) -> None:
        for task_id in list(self.runners):
            self._stop(task_id)
        try:
            leases.release(conn, self.opts.name)
            conn.execute("DELETE FROM video.worker WHERE name = %s", (self.opts.name,))
        except psycopg.Error as exc:
            log.warning("could not give the leases back (they expire by themselves): %s", exc)
