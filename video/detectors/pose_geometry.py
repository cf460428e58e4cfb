"""Pure geometry on COCO-17 keypoints (x, y, visibility): where a head, a torso and the hands
are, and what posture a body is in. Used by sleeping, phone call, smoking, helmet, uniform.

    kp = person.keypoints                     # (17, 3)
    posture(kp, person.box)                   # "lying" | "head_down" | "upright" | "unknown"
    head_box(kp), torso_box(kp)               # regions for colour analysis, or None
    hand_near(kp, target="ear", reach=0.5)    # a wrist within reach × shoulder width
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from video.inference import (
    L_EAR,
    L_EYE,
    L_HIP,
    L_SHOULDER,
    L_WRIST,
    NOSE,
    R_EAR,
    R_EYE,
    R_HIP,
    R_SHOULDER,
    R_WRIST,
    Box,
)

VISIBLE = 0.5
Posture = Literal["lying", "head_down", "upright", "unknown"]


def seen(kp: np.ndarray, *idx: int) -> bool:
    return all(kp[i, 2] >= VISIBLE for i in idx)


def _mid(kp: np.ndarray, a: int, b: int) -> np.ndarray | None:
    pts = [kp[i, :2] for i in (a, b) if kp[i, 2] >= VISIBLE]
    return np.mean(pts, axis=0) if pts else None


def shoulder_width(kp: np.ndarray, box: Box) -> float:
    """Body scale: shoulder distance, else a fifth of the box height."""
    if seen(kp, L_SHOULDER, R_SHOULDER):
        w = float(np.linalg.norm(kp[L_SHOULDER, :2] - kp[R_SHOULDER, :2]))
        if w > 2:
            return w
    return max(4.0, (box[3] - box[1]) / 5.0)


def torso_angle(kp: np.ndarray) -> float | None:
    """Degrees between the shoulders→hips line and the vertical (0 = upright, 90 = flat)."""
    sh, hip = _mid(kp, L_SHOULDER, R_SHOULDER), _mid(kp, L_HIP, R_HIP)
    if sh is None or hip is None:
        return None
    dx, dy = hip - sh
    if abs(dx) + abs(dy) < 1:
        return None
    return math.degrees(math.atan2(abs(dx), abs(dy)))


def posture(kp: np.ndarray, box: Box) -> Posture:
    """Lying (torso near horizontal, or a wide flat box); head down (nose at or below the
    shoulder line, e.g. head on the desk); else upright.

    >>> kp = np.zeros((17, 3)); kp[:, 2] = 1
    >>> kp[[5, 6], :2] = [[0, 0], [0, 10]]; kp[[11, 12], :2] = [[40, 0], [40, 10]]
    >>> posture(kp, (0, 0, 60, 20))
    'lying'
    """
    angle = torso_angle(kp)
    w, h = box[2] - box[0], box[3] - box[1]
    if (angle is not None and angle > 55) or (angle is None and w > 1.4 * h):
        return "lying"
    sh = _mid(kp, L_SHOULDER, R_SHOULDER)
    if sh is None:
        return "unknown"
    scale = shoulder_width(kp, box)
    if seen(kp, NOSE):
        if kp[NOSE, 1] >= sh[1] - 0.15 * scale:
            return "head_down"
        return "upright"
    # Shoulders seen but no face at all: the head is bowed away from the camera.
    if not seen(kp, L_EYE) and not seen(kp, R_EYE) and not seen(kp, L_EAR) and not seen(kp, R_EAR):
        return "head_down"
    return "upright"


def head_box(kp: np.ndarray, box: Box) -> Box | None:
    """The head, from the face keypoints, sized by the ear (or eye) distance."""
    face = [i for i in (NOSE, L_EYE, R_EYE, L_EAR, R_EAR) if kp[i, 2] >= VISIBLE]
    if len(face) < 2:
        return None
    pts = kp[face, :2]
    cx, cy = pts[:, 0].mean(), pts[:, 1].min()
    span = float(np.ptp(pts[:, 0]))
    size = max(span * 1.4, shoulder_width(kp, box) * 0.55, 6.0)
    return (
        float(cx - size / 2),
        float(cy - size * 0.9),
        float(cx + size / 2),
        float(cy + size * 0.5),
    )


def crown_box(kp: np.ndarray, box: Box) -> Box | None:
    """The top of the head, above the eyes: where a helmet is."""
    head = head_box(kp, box)
    if head is None:
        return None
    x1, y1, x2, y2 = head
    eyes = [kp[i, 1] for i in (L_EYE, R_EYE, L_EAR, R_EAR) if kp[i, 2] >= VISIBLE]
    bottom = min(eyes) if eyes else y1 + (y2 - y1) * 0.4
    top = bottom - (x2 - x1) * 0.75
    shrink = (x2 - x1) * 0.1
    return (x1 + shrink, float(top), x2 - shrink, float(bottom - (x2 - x1) * 0.1))


def torso_box(kp: np.ndarray) -> Box | None:
    """Between the shoulders and the hips, shrunk away from the arms and the background."""
    if not seen(kp, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP):
        return None
    pts = kp[[L_SHOULDER, R_SHOULDER, L_HIP, R_HIP], :2]
    x1, y1 = pts.min(axis=0)
    x2, y2 = pts.max(axis=0)
    if x2 - x1 < 4 or y2 - y1 < 6:
        return None
    dx, dy = (x2 - x1) * 0.15, (y2 - y1) * 0.1
    return (float(x1 + dx), float(y1 + dy), float(x2 - dx), float(y2 - dy))


def hand_near(kp: np.ndarray, box: Box, target: Literal["ear", "mouth"], reach: float) -> bool:
    """A visible wrist within ``reach`` shoulder widths of an ear (phone) or the mouth."""
    scale = shoulder_width(kp, box)
    if target == "ear":
        spots = [kp[i, :2] for i in (L_EAR, R_EAR) if kp[i, 2] >= VISIBLE]
    else:
        spots = []
        if seen(kp, NOSE):
            mouth = kp[NOSE, :2].copy()
            mouth[1] += 0.25 * scale
            spots.append(mouth)
    wrists = [kp[i, :2] for i in (L_WRIST, R_WRIST) if kp[i, 2] >= VISIBLE]
    return any(float(np.linalg.norm(w - s)) <= reach * scale for w in wrists for s in spots)


def clip_box(b: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    x1, y1 = max(0, int(b[0])), max(0, int(b[1]))
    x2, y2 = min(width, math.ceil(b[2])), min(height, math.ceil(b[3]))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return x1, y1, x2, y2
