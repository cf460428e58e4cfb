"""Decoding (V1, V18): H.264 and H.265 at original resolution, damaged files, a recording that
stops, and a live stream that disappears and comes back (a real FFmpeg server over TCP)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from hazwatch.errors import HazwatchError
from tests.conftest import find_free_port
from video.sources import FileSource, Frame, LiveSource, SourceEvent, VideoSourceError


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_1080p_h264_and_h265_decode_at_original_resolution(
    clips: dict[str, Path], codec: str
) -> None:
    src = FileSource(clips[codec])
    frames = [f for f in src.items() if isinstance(f, Frame)]
    assert (src.width, src.height) == (1920, 1080)
    assert len(frames) == 30 and frames[-1].image.shape == (1080, 1920, 3)
    assert src.codec.lower() in ({"avc1", "h264"} if codec == "h264" else {"hev1", "hvc1", "hevc"})


def test_every_nth_frame_keeps_source_indices_and_times(vtest: Path) -> None:
    items = list(FileSource(vtest).items(every=100))
    frames = [i for i in items if isinstance(i, Frame)]
    assert [f.index for f in frames] == list(range(0, 795, 100))
    assert frames[1].time == pytest.approx(10.0)  # vtest.avi runs at 10 fps
    assert isinstance(items[-1], SourceEvent) and items[-1].kind == "end"
    assert not any(isinstance(i, SourceEvent) and i.kind == "video_loss" for i in items)


def test_damaged_files_give_a_clear_error(tmp_path: Path, bikes: Path) -> None:
    random_bytes = tmp_path / "noise.mp4"
    random_bytes.write_bytes(bytes(range(256)) * 400)
    cut_mp4 = tmp_path / "cut.mp4"
    cut_mp4.write_bytes(bikes.read_bytes()[:200_000])  # the index (moov) is at the end
    empty = tmp_path / "empty.avi"
    empty.touch()
    cases = {
        random_bytes: "cannot open as video",
        cut_mp4: "cannot open as video",
        empty: "the file is empty",
        tmp_path / "missing.mp4": "no such file",
        tmp_path: "is a directory",
    }
    for path, message in cases.items():
        with pytest.raises(VideoSourceError, match=message) as info:
            FileSource(path)
        assert str(path) in str(info.value)


def test_recording_that_stops_early_is_video_loss(tmp_path: Path, vtest: Path) -> None:
    cut = tmp_path / "cut.avi"
    cut.write_bytes(vtest.read_bytes()[:2_500_000])  # header still says 795 frames
    items = list(FileSource(cut).items(every=25))
    events = [i for i in items if isinstance(i, SourceEvent)]
    assert [e.kind for e in events] == ["video_loss", "end"]
    assert 100 < events[0].frame_index < 795
    assert "of 795 frames" in events[0].detail


def test_every_must_be_positive(vtest: Path) -> None:
    with pytest.raises(HazwatchError, match="at least 1"):
        next(FileSource(vtest).items(every=0))


def _serve(clip: Path, port: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("ffmpeg")
    assert exe
    return subprocess.Popen(
        [
            exe,
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-stream_loop",
            "-1",
            "-i",
            str(clip),
            "-c",
            "copy",
            "-f",
            "mpegts",
            f"tcp://127.0.0.1:{port}?listen=1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(live: LiveSource, want: str, timeout: float) -> list[SourceEvent | Frame]:
    seen: list[SourceEvent | Frame] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        item = live.get(timeout=0.5)
        if item is None:
            continue
        seen.append(item)
        if (want == "frame" and isinstance(item, Frame)) or (
            isinstance(item, SourceEvent) and item.kind == want
        ):
            return seen
    raise AssertionError(f"no {want} within {timeout} s; saw {[type(s).__name__ for s in seen]}")


@pytest.mark.usefixtures("no_leaked_threads")
def test_live_stream_loss_offline_and_restore(clips: dict[str, Path]) -> None:
    port = find_free_port()
    server = _serve(clips["h264"], port)
    try:
        with LiveSource(
            f"tcp://127.0.0.1:{port}", offline_after_s=1.5, retry_s=0.3, timeout_ms=3000
        ) as live:
            frame = _wait_for(live, "frame", 20)[-1]
            assert isinstance(frame, Frame) and frame.image.shape == (1080, 1920, 3)
            time.sleep(1.0)  # consume nothing: the reader must drop, not queue
            assert live.stats.dropped > 0
            assert live.stats.decoded > live.stats.delivered
            server.terminate()
            server.wait(10)
            loss = _wait_for(live, "video_loss", 15)[-1]
            offline = _wait_for(live, "camera_offline", 15)[-1]
            assert isinstance(loss, SourceEvent) and isinstance(offline, SourceEvent)
            assert offline.time - loss.time >= 1.0
            server = _serve(clips["h264"], port)
            restored = _wait_for(live, "restored", 30)
            assert isinstance(restored[-1], SourceEvent)
            assert live.stats.reconnects >= 2
    finally:
        server.kill()
        server.wait(10)
