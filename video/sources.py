"""Decoding video with OpenCV's FFmpeg backend: files and live streams (RTSP, TCP, HTTP).

Frames come at the original resolution (main stream, V18); H.264 and H.265 both decode.

    src = FileSource(Path("clip.mp4"))            # clear HazwatchError if missing or corrupt
    for item in src.items(every=5):               # Frame or SourceEvent, in order
        ...

    live = LiveSource("rtsp://cam/main", offline_after_s=30)
    live.start()
    item = live.get(timeout=1.0)                  # newest Frame, or a SourceEvent first
    live.stop()

A live source decodes on its own thread and keeps only the newest frame: when analysis is
slower than the camera, frames are dropped (counted in ``stats``) instead of queueing up, so
alarms stay current. Losing the stream is an event (``video_loss``), so is a camera that stays
away (``camera_offline``) and its return (``restored``); the thread keeps reconnecting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from hazwatch.errors import HazwatchError

EventKind = Literal["video_loss", "camera_offline", "restored", "end"]


class VideoSourceError(HazwatchError):
    """A source that cannot be opened or decoded; the message names it and why."""


@dataclass(frozen=True)
class Frame:
    index: int  # decoded frame number in the source, from 0
    time: float  # seconds: position in a file, seconds since start for live sources
    image: np.ndarray  # BGR, original resolution
    source: str


@dataclass(frozen=True)
class SourceEvent:
    kind: EventKind
    time: float
    frame_index: int  # last frame decoded before the event (-1 if none)
    detail: str


def _capture(url: str, timeout_ms: int) -> cv2.VideoCapture:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        timeout_ms,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        timeout_ms,
    ]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


def codec_of(cap: cv2.VideoCapture) -> str:
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else "?"


class FileSource:
    """A recorded file, read sequentially (nothing dropped: evaluation needs every frame)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            raise VideoSourceError(f"{path}: no such file")
        if path.is_dir():
            raise VideoSourceError(f"{path}: is a directory, not a video file")
        if path.stat().st_size == 0:
            raise VideoSourceError(f"{path}: the file is empty")
        self._cap = _capture(str(path), 10_000)
        if not self._cap.isOpened():
            raise VideoSourceError(
                f"{path}: cannot open as video (not a container/codec FFmpeg can decode, or "
                "the file is damaged)"
            )
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise VideoSourceError(f"{path}: opened, but no frame decodes (damaged or truncated)")
        self._first: np.ndarray | None = first
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else 25.0
        self.height, self.width = first.shape[:2]
        self.declared_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.codec = codec_of(self._cap)
        self.decoded = 0

    def items(self, every: int = 1, limit: int | None = None) -> Iterator[Frame | SourceEvent]:
        """Every ``every``-th frame, then ``video_loss`` if the file ends before its header
        said it would (a recording cut off), then ``end``."""
        if every < 1:
            raise HazwatchError("--every must be at least 1")
        index = 0
        try:
            while limit is None or index < limit:
                if self._first is not None:
                    ok, image = True, self._first
                    self._first = None
                elif index % every == 0:
                    ok, image = self._cap.read()
                else:
                    ok, image = self._cap.grab(), None
                if not ok:
                    break
                self.decoded += 1
                if image is not None and index % every == 0:
                    yield Frame(index, index / self.fps, image, str(self.path))
                index += 1
            last = index - 1
            expected = self.declared_frames
            # Containers round their frame count; only a clear shortfall is a lost stream.
            if limit is None and expected > 0 and index < expected - max(2, expected // 100):
                yield SourceEvent(
                    "video_loss",
                    index / self.fps,
                    last,
                    f"stream stopped after {index} of {expected} frames",
                )
            yield SourceEvent("end", index / self.fps, last, f"{index} frames decoded")
        finally:
            self._cap.release()

    def close(self) -> None:
        self._cap.release()


@dataclass
class SourceStats:
    decoded: int = 0
    delivered: int = 0
    dropped: int = 0
    reconnects: int = 0


class LiveSource:
    """A stream decoded on its own thread; ``get`` returns events first, then the newest frame."""

    def __init__(
        self,
        url: str,
        offline_after_s: float = 30.0,
        retry_s: float = 1.0,
        timeout_ms: int = 5000,
    ) -> None:
        self.url = url
        self.offline_after_s = offline_after_s
        self.retry_s, self.timeout_ms = retry_s, timeout_ms
        self.stats = SourceStats()
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._events: deque[SourceEvent] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"decode {url}", daemon=True)
        self._t0 = time.monotonic()

    def start(self) -> LiveSource:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout_ms / 1000 + 5)

    def __enter__(self) -> LiveSource:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def get(self, timeout: float = 1.0) -> Frame | SourceEvent | None:
        with self._cond:
            if not self._events and self._latest is None:
                self._cond.wait(timeout)
            if self._events:
                return self._events.popleft()
            frame, self._latest = self._latest, None
            if frame is not None:
                self.stats.delivered += 1
            return frame

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _emit(self, kind: EventKind, index: int, detail: str) -> None:
        with self._cond:
            self._events.append(SourceEvent(kind, self._now(), index, detail))
            self._cond.notify_all()

    def _run(self) -> None:
        index = -1
        last_frame_at = self._now()
        lost = offline = False
        while not self._stop.is_set():
            cap = _capture(self.url, self.timeout_ms)
            if cap.isOpened():
                while not self._stop.is_set():
                    ok, image = cap.read()
                    if not ok or image is None:
                        break
                    index += 1
                    last_frame_at = self._now()
                    if lost:
                        self._emit("restored", index, "frames arrive again")
                        lost = offline = False
                    with self._cond:
                        self.stats.decoded += 1
                        if self._latest is not None:
                            self.stats.dropped += 1  # back-pressure: the reader was too slow
                        self._latest = Frame(index, last_frame_at, image, self.url)
                        self._cond.notify_all()
            cap.release()
            down_for = self._now() - last_frame_at
            if not lost:
                # A failed read or open is a loss at once; offline needs it to last.
                lost = True
                self._emit("video_loss", index, f"no frames from {self.url}")
            if lost and not offline and down_for >= self.offline_after_s:
                offline = True
                self._emit("camera_offline", index, f"no frames for {down_for:.0f} s")
            self.stats.reconnects += 1
            self._stop.wait(self.retry_s)
