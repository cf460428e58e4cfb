"""Colour analysis of body regions (pure): helmet colours of the crown of the head, and
hue-saturation histograms of the torso compared with enrolled uniform samples.

    colour_fractions(crown_bgr)               # {"red": 0.1, "yellow": 0.7, ...}
    histogram(torso_bgr); distance(h1, h2)    # Bhattacharyya distance, 0 = identical
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from hazwatch.errors import HazwatchError

#: Hard-hat colours in use in Chinese plants (GB 2811: red, yellow, blue, white, orange) as
#: OpenCV HSV ranges (H 0-179). Red wraps around 0.
HELMET_COLOURS: dict[str, list[tuple[tuple[int, int, int], tuple[int, int, int]]]] = {
    "red": [((0, 110, 70), (8, 255, 255)), ((170, 110, 70), (179, 255, 255))],
    "orange": [((9, 120, 110), (20, 255, 255))],
    "yellow": [((21, 100, 110), (34, 255, 255))],
    "blue": [((95, 110, 60), (125, 255, 255))],
    "white": [((0, 0, 190), (179, 40, 255))],
}


def colour_fractions(region_bgr: np.ndarray) -> dict[str, float]:
    """Fraction of the region's pixels in each helmet colour range."""
    hsv = cv2.cvtColor(region_bgr, cv2.COLOR_BGR2HSV)
    total = float(hsv.shape[0] * hsv.shape[1]) or 1.0
    out = {}
    for name, ranges in HELMET_COLOURS.items():
        mask = np.zeros(hsv.shape[:2], np.uint8)
        for lo, hi in ranges:
            mask |= cv2.inRange(hsv, np.array(lo, np.uint8), np.array(hi, np.uint8))
        out[name] = float(np.count_nonzero(mask)) / total
    return out


def helmet_colour(
    region_bgr: np.ndarray, allowed: tuple[str, ...], min_fraction: float
) -> tuple[str | None, float]:
    """The dominant allowed helmet colour covering at least ``min_fraction``, else None."""
    fractions = colour_fractions(region_bgr)
    name = max(allowed, key=lambda n: fractions.get(n, 0.0))
    share = fractions.get(name, 0.0)
    return (name if share >= min_fraction else None), share


def histogram(region_bgr: np.ndarray) -> np.ndarray:
    """Normalised hue-saturation histogram; brightness left out so light changes matter less."""
    hsv = cv2.cvtColor(region_bgr, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [30, 32], [0, 180, 0, 256])
    cv2.normalize(hist, hist, alpha=1.0, norm_type=cv2.NORM_L1)
    return hist


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def load_samples(paths: list[str]) -> list[np.ndarray]:
    """Histograms of enrolled uniform samples (image files of the uniform's torso)."""
    hists = []
    for name in paths:
        path = Path(name)
        image = cv2.imread(str(path)) if path.is_file() else None
        if image is None:
            raise HazwatchError(f"uniform sample {path}: not a readable image file")
        hists.append(histogram(image))
    return hists
