"""Alarm snapshots (V5): the frame as JPEG with the zone and the boxes that raised it drawn.

    jpeg = snapshot_jpeg(image, zones=[zone], boxes=finding.boxes, title="intrusion door")
    path = save_snapshot(directory, "intrusion-door-000120", jpeg)

Text uses OpenCV's built-in Hershey font, which has Latin glyphs only: titles are the type
codes; the UI shows the Chinese names beside the picture.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from hazwatch.errors import HazwatchError
from video.inference import Box
from video.zones import Zone

ZONE_COLOUR = (0, 200, 255)  # amber, BGR
BOX_COLOUR = (0, 0, 255)  # red


def draw(
    image: np.ndarray, zones: Iterable[Zone], boxes: Iterable[Box], title: str = ""
) -> np.ndarray:
    """A copy of ``image`` with zones (outline and light fill), boxes and a title bar."""
    out = image.copy()
    thick = max(2, round(out.shape[1] / 640))
    overlay = out.copy()
    for zone in zones:
        pts = np.array(zone.points, np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(overlay, [pts], ZONE_COLOUR)
    cv2.addWeighted(overlay, 0.2, out, 0.8, 0, dst=out)
    for zone in zones:
        pts = np.array(zone.points, np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], True, ZONE_COLOUR, thick)
        x, y = zone.points[0]
        cv2.putText(
            out,
            zone.name,
            (int(x) + 4, int(y) + 18 * thick),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5 * thick,
            ZONE_COLOUR,
            thick,
        )
    for x1, y1, x2, y2 in boxes:
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), BOX_COLOUR, thick)
    if title:
        scale = 0.5 * thick
        (tw, th), base = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        cv2.rectangle(out, (0, 0), (tw + 12, th + base + 12), (0, 0, 0), -1)
        cv2.putText(
            out, title, (6, th + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick
        )
    return out


def snapshot_jpeg(
    image: np.ndarray,
    zones: Iterable[Zone],
    boxes: Iterable[Box],
    title: str = "",
    quality: int = 85,
) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", draw(image, zones, boxes, title), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise HazwatchError("JPEG encoding of the snapshot failed")
    return buf.tobytes()


def save_snapshot(directory: Path, stem: str, jpeg: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.jpg"
    path.write_bytes(jpeg)
    return path
