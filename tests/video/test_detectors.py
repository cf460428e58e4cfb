"""Recognition types without real footage here (V7, V8, V11, V13-V16) are tested on staged
frames: synthetic images, and pose keypoints placed by hand where a pose model would put them.
The helmet region is also checked on the real cyclist of bikes.mp4."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hazwatch.errors import HazwatchError
from video.alarm_state import IDLE, step
from video.detectors import BUILTIN, make
from video.detectors.base import Algorithm
from video.detectors.pose_geometry import crown_box, posture
from video.frame_context import FrameContext, ModelHub, StreamState
from video.inference import CELL_PHONE, Detection
from video.sources import FileSource, Frame
from video.zones import parse_zone

W, H = 640, 480
HUB = ModelHub(Path("/nonexistent"))  # staged contexts carry their own results: never loaded


def person(kp: dict[int, tuple[float, float]], box: tuple[float, float, float, float]) -> Detection:
    arr = np.zeros((17, 3), np.float32)
    for i, (x, y) in kp.items():
        arr[i] = (x, y, 0.9)
    return Detection(box, 0.9, 0, "person", arr)


def upright(x: float = 300, y: float = 100, s: float = 40) -> dict[int, tuple[float, float]]:
    """COCO-17 keypoints of a standing person; head top at y, shoulder width s."""
    return {
        0: (x, y + 0.5 * s),
        1: (x - 0.15 * s, y + 0.4 * s),
        2: (x + 0.15 * s, y + 0.4 * s),
        3: (x - 0.3 * s, y + 0.45 * s),
        4: (x + 0.3 * s, y + 0.45 * s),
        5: (x - 0.5 * s, y + 1.1 * s),
        6: (x + 0.5 * s, y + 1.1 * s),
        7: (x - 0.6 * s, y + 1.8 * s),
        8: (x + 0.6 * s, y + 1.8 * s),
        9: (x - 0.6 * s, y + 2.5 * s),
        10: (x + 0.6 * s, y + 2.5 * s),
        11: (x - 0.35 * s, y + 2.6 * s),
        12: (x + 0.35 * s, y + 2.6 * s),
        13: (x - 0.35 * s, y + 3.5 * s),
        14: (x + 0.35 * s, y + 3.5 * s),
        15: (x - 0.35 * s, y + 4.4 * s),
        16: (x + 0.35 * s, y + 4.4 * s),
    }


def upright_box(x: float = 300, y: float = 100, s: float = 40) -> tuple[float, ...]:
    return (x - 0.8 * s, y, x + 0.8 * s, y + 4.5 * s)


def feed(
    algo: Algorithm,
    frames: list[tuple[np.ndarray, list[Detection], list[Detection]]],
    fps: float = 5.0,
) -> list[tuple[str, int]]:
    """Run staged frames through an algorithm and its alarm timing; (kind, frame) changes."""
    stream, state, out = StreamState(), IDLE, []
    for n, (image, poses, objects) in enumerate(frames):
        ctx = FrameContext(Frame(n, n / fps, image, "staged"), HUB, stream, objects, poses)
        for finding in algo.evaluate(ctx):
            state, change = step(state, algo.timing(), n / fps, finding.holds, n)
            if change:
                out.append((change.kind, n))
    return out


def blank(colour: tuple[int, int, int] = (90, 110, 100)) -> np.ndarray:
    img = np.full((H, W, 3), colour, np.uint8)
    rng = np.random.default_rng(0)
    # A textured scene (bricks), so that smoke has contrast to take away.
    for y in range(0, H, 16):
        cv2.line(img, (0, y), (W, y), (60, 70, 80), 2)
        for x in range((y // 16 % 2) * 20, W, 40):
            cv2.line(img, (x, y), (x, y + 16), (60, 70, 80), 2)
    return np.clip(img.astype(int) + rng.integers(-3, 4, img.shape), 0, 255).astype(np.uint8)


def test_every_builtin_type_is_registered() -> None:
    assert set(BUILTIN) == {
        "fire",
        "smoke",
        "intrusion",
        "off_post",
        "sleeping",
        "crowding",
        "phone_call",
        "smoking",
        "no_helmet",
        "no_uniform",
    }
    assert BUILTIN["smoking"].confidence == "low"


def test_fire_flickering_flame_raises_static_orange_does_not() -> None:
    zone = parse_zone("tank=100,100;540,100;540,460;100,460")
    rng = np.random.default_rng(1)
    flames, painted = [], []
    for _ in range(40):
        img = blank()
        # A flame: a bright orange-yellow blob whose outline changes every frame.
        pts = np.array(
            [[320 + rng.integers(-50, 50), 300 + rng.integers(-90, 40)] for _ in range(9)], np.int32
        )
        cv2.fillPoly(img, [cv2.convexHull(pts)], (40, 140, 255))
        cv2.circle(img, (320, 320), 18 + int(rng.integers(0, 12)), (120, 230, 255), -1)
        flames.append((img, [], []))
        still = blank()
        cv2.rectangle(still, (250, 250), (390, 380), (40, 140, 255), -1)  # an orange tank
        painted.append((still, [], []))
    assert feed(make("fire", [zone]), flames)[0][0] == "raised"
    assert feed(make("fire", [zone]), painted) == []


def test_smoke_spreading_grey_raises_grey_wall_does_not() -> None:
    zone = parse_zone("stack=0,0;640,0;640,480;0,480")
    plume, wall = [], []
    for n in range(40):
        img = blank()
        if n >= 5:
            # Grey, semi-transparent, growing: it hides the bricks behind it.
            overlay = img.copy()
            radius = 20 + 5 * (n - 5)
            cv2.circle(overlay, (320, 300 - 2 * n), radius, (175, 175, 175), -1)
            img = cv2.addWeighted(overlay, 0.85, img, 0.15, 0)
            img = cv2.GaussianBlur(img, (9, 9), 0)
        plume.append((img, [], []))
        still = blank()
        cv2.rectangle(still, (200, 150), (440, 400), (175, 175, 175), -1)
        wall.append((still, [], []))
    changes = feed(make("smoke", [zone]), plume)
    assert changes and changes[0][0] == "raised" and changes[0][1] > 10
    assert feed(make("smoke", [zone]), wall) == []


def test_posture_classification() -> None:
    kp = person(upright(), upright_box()).keypoints
    assert posture(kp, upright_box()) == "upright"
    lying = {i: (y + 100, x) for i, (x, y) in upright(300, 100).items()}  # rotated 90°
    assert posture(person(lying, (150, 250, 500, 330)).keypoints, (150, 250, 500, 330)) == "lying"
    bowed = upright()
    bowed[0] = (300, 150)  # nose below the shoulder line: head on the desk
    assert posture(person(bowed, upright_box()).keypoints, upright_box()) == "head_down"


def test_sleeping_needs_posture_and_stillness_for_still_s() -> None:
    img = blank()
    bowed = upright()
    bowed[0] = (300, 150)
    asleep = person(bowed, upright_box())
    awake = person(upright(), upright_box())
    algo = make("sleeping", params={"still_s": 4})
    changes = feed(algo, [(img, [asleep], [])] * 30)
    assert changes == [("raised", 20)]  # 4 s at 5 fps
    # Head down but moving (writing): no alarm.
    moving = [
        (img, [person({i: (x + 8 * (n % 2), y) for i, (x, y) in bowed.items()}, upright_box())], [])
        for n in range(30)
    ]
    assert feed(make("sleeping", params={"still_s": 4}), moving) == []
    assert feed(make("sleeping", params={"still_s": 4}), [(img, [awake], [])] * 30) == []


def test_phone_call_hand_at_ear_or_phone_at_head() -> None:
    img = blank()
    kp = upright()
    kp[10] = (312, 118)  # right wrist at the right ear
    calling = person(kp, upright_box())
    idle = person(upright(), upright_box())
    phone = Detection((290, 115, 305, 135), 0.6, CELL_PHONE, "cell_phone")
    assert feed(make("phone_call"), [(img, [calling], [])] * 25)[0] == ("raised", 15)
    assert feed(make("phone_call"), [(img, [idle], [phone])] * 25)[0] == ("raised", 15)
    assert feed(make("phone_call"), [(img, [idle], [])] * 25) == []


def test_smoking_repeated_hand_to_mouth_is_low_confidence() -> None:
    img = blank()
    to_mouth = upright()
    to_mouth[9] = (300, 126)  # left wrist at the mouth
    frames = [
        (img, [person(to_mouth if n % 10 < 3 else upright(), upright_box())], []) for n in range(40)
    ]
    algo = make("smoking")
    changes = feed(algo, frames)
    assert changes[0] == ("raised", 10)  # the second time the hand comes up
    assert algo.confidence == "low"
    once = [(img, [person(to_mouth if n < 3 else upright(), upright_box())], []) for n in range(40)]
    assert feed(make("smoking"), once) == []


def _head_image(helmet: tuple[int, int, int] | None) -> tuple[np.ndarray, Detection]:
    img = blank((200, 200, 200))
    kp = upright(300, 100, 60)
    det = person(kp, upright_box(300, 100, 60))
    cv2.circle(img, (300, 140), 26, (150, 180, 220), -1)  # face
    cap = helmet or (30, 30, 40)  # dark hair when bare-headed
    cv2.ellipse(img, (300, 122), (30, 24), 0, 180, 360, cap, -1)
    return img, det


def test_no_helmet_by_crown_colour() -> None:
    yellow_img, det = _head_image((0, 220, 240))
    bare_img, _ = _head_image(None)
    assert feed(make("no_helmet"), [(yellow_img, [det], [])] * 20) == []
    assert feed(make("no_helmet"), [(bare_img, [det], [])] * 20)[0] == ("raised", 10)
    # Only red helmets allowed on this site: yellow counts as none.
    assert feed(make("no_helmet", params={"colours": "red"}), [(yellow_img, [det], [])] * 20)
    with pytest.raises(HazwatchError, match="unknown helmet colour"):
        make("no_helmet", params={"colours": "purple"})


def test_helmet_region_sits_on_the_real_cyclists_helmet(hub: ModelHub, bikes: Path) -> None:
    helmet = (401, 16, 436, 38)  # hand-labelled on frame 110 of bikes.mp4
    for item in FileSource(bikes).items(every=110, limit=111):
        if isinstance(item, Frame) and item.index == 110:
            poses = FrameContext(item, hub, StreamState()).poses()
            cyclist = max(poses, key=lambda d: d.score)
            assert cyclist.keypoints is not None
            crown = crown_box(cyclist.keypoints, cyclist.box)
            assert crown is not None
            cx, cy = (crown[0] + crown[2]) / 2, (crown[1] + crown[3]) / 2
            assert helmet[0] <= cx <= helmet[2] and helmet[1] <= cy <= helmet[3]
            return
    raise AssertionError("frame 110 not decoded")


def test_no_uniform_against_enrolled_samples(tmp_path: Path) -> None:
    sample = tmp_path / "blue-overalls.png"
    patch = np.full((60, 40, 3), (160, 80, 20), np.uint8)  # navy-blue overalls
    cv2.imwrite(str(sample), patch)
    det = person(upright(300, 100, 60), upright_box(300, 100, 60))

    def dressed(colour: tuple[int, int, int]) -> np.ndarray:
        img = blank((200, 200, 200))
        cv2.rectangle(img, (262, 160), (338, 260), colour, -1)
        return img

    algo = make("no_uniform", params={"samples": str(sample)})
    assert feed(algo, [(dressed((160, 80, 20)), [det], [])] * 20) == []
    algo = make("no_uniform", params={"samples": str(sample)})
    assert feed(algo, [(dressed((40, 40, 200)), [det], [])] * 20)[0] == ("raised", 10)
    with pytest.raises(HazwatchError, match="samples: Field required"):
        make("no_uniform")
    with pytest.raises(HazwatchError, match="not a readable image"):
        make("no_uniform", params={"samples": str(tmp_path / "none.png")})
