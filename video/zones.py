"""Detection zones: polygons in the pixel coordinates of the original-resolution frame (V3).

    zone = parse_zone("door=100,400;500,400;500,570;100,570")
    zone.contains((300.0, 500.0))                 # True
    inside = persons_in_zone(zone, detections)    # by foot point (bottom centre of the box)

A person is in a zone when the point where they stand is inside the polygon, not when any part
of their box overlaps it: a person walking past in front of a fence is not an intrusion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from hazwatch.errors import HazwatchError

Point = tuple[float, float]
_NAME = re.compile(r"^[\w.-]{1,64}$")


class HasFoot(Protocol):
    @property
    def foot(self) -> Point: ...


T = TypeVar("T", bound=HasFoot)


@dataclass(frozen=True)
class Zone:
    name: str
    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise HazwatchError(
                f"zone name {self.name!r}: use 1-64 letters, digits, '_', '.' or '-'"
            )
        if len(self.points) < 3:
            raise HazwatchError(f"zone {self.name}: a polygon needs at least 3 points")
        if abs(polygon_area(self.points)) < 1.0:
            raise HazwatchError(f"zone {self.name}: the polygon has no area (points in a line?)")

    def contains(self, point: Point) -> bool:
        return point_in_polygon(point, self.points)

    def bounds(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        return min(xs), min(ys), max(xs), max(ys)


def whole_frame(width: int, height: int, name: str = "frame") -> Zone:
    """The zone used when an algorithm is given none."""
    return Zone(
        name, ((0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height)))
    )


def polygon_area(points: Sequence[Point]) -> float:
    """Signed area (shoelace formula).

    >>> polygon_area([(0, 0), (4, 0), (4, 3)])
    6.0
    """
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True):
        total += x1 * y2 - x2 * y1
    return total / 2.0


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd ray casting; points on the left/top edges count as inside.

    >>> point_in_polygon((1, 1), [(0, 0), (4, 0), (4, 4), (0, 4)])
    True
    >>> point_in_polygon((5, 1), [(0, 0), (4, 0), (4, 4), (0, 4)])
    False
    """
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross_x:
                inside = not inside
    return inside


def parse_zone(text: str) -> Zone:
    """``NAME=x,y;x,y;...`` (the CLI's ``--zone``) to a Zone, with the exact fault on error.

    >>> parse_zone("gate=0,0;10,0;10,10").points[2]
    (10.0, 10.0)
    """
    if "=" not in text:
        raise HazwatchError(f"zone {text!r}: expected NAME=x,y;x,y;x,y")
    name, _, spec = text.partition("=")
    points: list[Point] = []
    for n, pair in enumerate(p for p in spec.split(";") if p.strip()):
        parts = pair.split(",")
        if len(parts) != 2:
            raise HazwatchError(f"zone {name}: point {n + 1} {pair!r} is not x,y")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise HazwatchError(f"zone {name}: point {n + 1} {pair!r} is not numeric") from None
        if x < 0 or y < 0:
            raise HazwatchError(f"zone {name}: point {n + 1} {pair!r} is negative")
        points.append((x, y))
    return Zone(name.strip(), tuple(points))


def check_fits(zone: Zone, width: int, height: int) -> None:
    """A zone drawn for another resolution would silently never match: say so instead."""
    _, _, x2, y2 = zone.bounds()
    if x2 > width or y2 > height:
        raise HazwatchError(
            f"zone {zone.name} reaches ({x2:g}, {y2:g}) but the frame is {width}×{height}: "
            "zone points are pixels of the original-resolution frame"
        )


def persons_in_zone(zone: Zone, persons: Iterable[T]) -> list[T]:
    """Those whose foot point lies inside the zone."""
    return [p for p in persons if zone.contains(p.foot)]
