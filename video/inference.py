"""Running the ONNX models: onnxruntime on the CPU by default, OpenCV DNN as the fallback,
TensorRT or CUDA through onnxruntime when a GPU and those providers are present.

    backend = open_backend(path)                      # "auto": TensorRT > CUDA > CPU, else OpenCV
    persons = Detector(backend).detect(frame_bgr)     # list[Detection], boxes in frame pixels
    poses = PoseEstimator(open_backend(pose_path)).estimate(frame_bgr)

Pre- and post-processing (letterbox, box decoding, NMS, keypoints) are pure functions so that
they can be tested without a model. One ``Backend`` may serve many streams: onnxruntime
sessions are safe to call from several threads, and ``Backend.run`` serialises the OpenCV net.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np

from hazwatch.errors import HazwatchError

#: COCO class names in the order the YOLO models number them.
COCO = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic_light",
    "fire_hydrant",
    "stop_sign",
    "parking_meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports_ball",
    "kite",
    "baseball_bat",
    "baseball_glove",
    "skateboard",
    "surfboard",
    "tennis_racket",
    "bottle",
    "wine_glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot_dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted_plant",
    "bed",
    "dining_table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell_phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy_bear",
    "hair_drier",
    "toothbrush",
]
PERSON = 0
CELL_PHONE = COCO.index("cell_phone")

# COCO-17 keypoint indices used by the pose-based detectors.
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels
BackendName = Literal["auto", "onnxruntime", "opencv", "tensorrt"]


@dataclass(frozen=True)
class Detection:
    box: Box
    score: float
    cls: int
    label: str
    #: (17, 3) array of x, y, visibility for pose results; None for plain detections.
    keypoints: np.ndarray | None = field(default=None, compare=False)

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom centre of the box: where the person stands on the ground plane."""
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2.0, y2)


class Backend(Protocol):
    name: str
    input_size: tuple[int, int]  # width, height

    def run(self, blob: np.ndarray) -> np.ndarray: ...


class OrtBackend:
    """onnxruntime session; providers in order of preference, the CPU always last."""

    def __init__(self, path: Path, providers: list[str] | None = None, threads: int = 0) -> None:
        import onnxruntime as ort

        available = ort.get_available_providers()
        wanted = providers or ["CPUExecutionProvider"]
        chosen = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=chosen)
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise HazwatchError(f"onnxruntime cannot load {path}: {exc}") from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_size = _input_size(inp.shape, path)
        self.name = f"onnxruntime[{self.session.get_providers()[0]}]"

    def run(self, blob: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: blob})[0])


class CvDnnBackend:
    """OpenCV DNN: slower on the CPU here, but needs nothing beyond OpenCV."""

    def __init__(self, path: Path, input_size: tuple[int, int] = (640, 640)) -> None:
        try:
            self.net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise HazwatchError(f"OpenCV DNN cannot load {path}: {exc}") from None
        self.input_size = input_size
        self.name = "opencv-dnn"
        self._lock = threading.Lock()  # one cv2.dnn.Net must not run in two threads at once

    def run(self, blob: np.ndarray) -> np.ndarray:
        with self._lock:
            self.net.setInput(blob)
            return np.asarray(self.net.forward())


def _input_size(shape: list[object], path: Path) -> tuple[int, int]:
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
        raise HazwatchError(f"{path}: input shape {shape} is not a fixed N×3×H×W image tensor")
    return int(shape[3]), int(shape[2])  # type: ignore[call-overload]


def open_backend(path: Path, prefer: BackendName = "auto", threads: int = 0) -> Backend:
    """The best available backend for an ONNX file.

    ``auto`` tries onnxruntime with TensorRT and CUDA first (used only when the GPU build of
    onnxruntime and a GPU are present), then the CPU, then OpenCV DNN.
    """
    if not path.is_file():
        raise HazwatchError(f"model file {path} does not exist")
    if prefer == "opencv":
        return CvDnnBackend(path)
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    if prefer == "tensorrt":
        backend = OrtBackend(path, [*gpu, "CPUExecutionProvider"], threads)
        if "CPU" in backend.name:
            raise HazwatchError(
                "TensorRT was asked for but onnxruntime has no TensorRT/CUDA provider here "
                "(install onnxruntime-gpu with TensorRT on a GPU node)"
            )
        return backend
    try:
        providers = [*gpu, "CPUExecutionProvider"] if prefer == "auto" else None
        return OrtBackend(path, providers, threads)
    except (ImportError, HazwatchError):
        if prefer == "onnxruntime":
            raise
        return CvDnnBackend(path)


# -- pure pre/post-processing ----------------------------------------------------------------


@dataclass(frozen=True)
class Letterbox:
    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, xy: np.ndarray) -> np.ndarray:
        """Model-input pixel coordinates (…, 2) back to frame pixels."""
        out = np.array(xy, dtype=np.float32, copy=True)
        out[..., 0] = (out[..., 0] - self.pad_x) / self.scale
        out[..., 1] = (out[..., 1] - self.pad_y) / self.scale
        return out


def letterbox(frame: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio, pad with grey; return an NCHW float blob in 0..1.

    >>> blob, lb = letterbox(np.zeros((540, 960, 3), np.uint8), (640, 640))
    >>> blob.shape, round(lb.scale, 4), lb.pad_y
    ((1, 3, 640, 640), 0.6667, 140.0)
    """
    w, h = size
    fh, fw = frame.shape[:2]
    scale = min(w / fw, h / fh)
    nw, nh = round(fw * scale), round(fh * scale)
    pad_x, pad_y = (w - nw) // 2, (h - nh) // 2
    canvas = np.full((h, w, 3), 114, np.uint8)
    resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = resized
    blob = cv2.dnn.blobFromImage(canvas, 1 / 255.0, swapRB=True)
    return blob, Letterbox(scale, float(pad_x), float(pad_y))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression (boxes as x1, y1, x2, y2).

    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
    >>> nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5)
    [0, 2]
    """
    order = np.argsort(-scores)
    keep: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        union = area[i] + area[rest] - inter
        order = rest[inter / np.maximum(union, 1e-9) <= iou]
    return keep


def decode_yolo(
    out: np.ndarray,
    lb: Letterbox,
    frame_shape: tuple[int, ...],
    conf: float,
    iou: float,
    classes: tuple[str, ...],
    keypoints: int = 0,
    only: frozenset[int] | None = None,
) -> list[Detection]:
    """Ultralytics-layout output (1, 4 + nc [+ 3k], N) to detections in frame pixels."""
    pred = out[0].T  # (N, 4 + nc + 3k)
    nc = pred.shape[1] - 4 - 3 * keypoints
    if nc < 1:
        raise HazwatchError(f"model output has {pred.shape[1]} channels, too few for the layout")
    cls_scores = pred[:, 4 : 4 + nc]
    cls_ids = cls_scores.argmax(axis=1)
    scores = cls_scores[np.arange(len(pred)), cls_ids]
    mask = scores >= conf
    if only is not None:
        mask &= np.isin(cls_ids, list(only))
    if not mask.any():
        return []
    pred, cls_ids, scores = pred[mask], cls_ids[mask], scores[mask]
    cx, cy, bw, bh = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    corners = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    # Class-aware NMS: offset each class far apart so boxes of different classes never merge.
    offset = cls_ids[:, None].astype(np.float32) * 10_000.0
    keep = nms(corners + offset, scores, iou)
    fh, fw = frame_shape[:2]
    boxes = lb.to_frame(corners[keep].reshape(-1, 2, 2)).reshape(-1, 4)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, fw - 1)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, fh - 1)
    kps = None
    if keypoints:
        raw = pred[keep, 4 + nc :].reshape(-1, keypoints, 3)
        kps = np.concatenate([lb.to_frame(raw[..., :2]), raw[..., 2:3]], axis=2)
    result = []
    for n, k in enumerate(keep):
        c = int(cls_ids[k])
        label = classes[c] if c < len(classes) else str(c)
        box = (float(boxes[n, 0]), float(boxes[n, 1]), float(boxes[n, 2]), float(boxes[n, 3]))
        result.append(Detection(box, float(scores[k]), c, label, None if kps is None else kps[n]))
    return result


# -- model wrappers ---------------------------------------------------------------------------


class Detector:
    """Object detection (COCO by default) on a BGR frame of any size."""

    def __init__(
        self,
        backend: Backend,
        classes: tuple[str, ...] = tuple(COCO),
        conf: float = 0.35,
        iou: float = 0.5,
    ) -> None:
        self.backend, self.classes, self.conf, self.iou = backend, classes, conf, iou

    def detect(
        self, frame: np.ndarray, only: frozenset[int] | None = None, conf: float | None = None
    ) -> list[Detection]:
        blob, lb = letterbox(frame, self.backend.input_size)
        out = self.backend.run(blob)
        threshold = self.conf if conf is None else conf
        return decode_yolo(out, lb, frame.shape, threshold, self.iou, self.classes, 0, only)


class PoseEstimator:
    """Persons with COCO-17 keypoints (x, y, visibility) in frame pixels.

    ``estimate`` runs on the whole frame: fine when persons are large. CCTV persons are often
    60-150 px tall, which the 640 px pose model misses once the frame is shrunk to fit;
    ``estimate_boxes`` therefore packs the persons the detector found, enlarged, into one
    mosaic (up to 8 per model run) and maps the keypoints back.
    """

    def __init__(self, backend: Backend, conf: float = 0.35, iou: float = 0.5) -> None:
        self.backend, self.conf, self.iou = backend, conf, iou

    def estimate(self, frame: np.ndarray) -> list[Detection]:
        blob, lb = letterbox(frame, self.backend.input_size)
        out = self.backend.run(blob)
        return decode_yolo(out, lb, frame.shape, self.conf, self.iou, ("person",), keypoints=17)

    def estimate_boxes(self, frame: np.ndarray, persons: list[Detection]) -> list[Detection]:
        """Keypoints for each given person box (persons without a pose are left out)."""
        out: list[Detection] = []
        w, h = self.backend.input_size
        cols, rows = 4, 2
        cell = (w // cols, h // rows)
        for start in range(0, len(persons), cols * rows):
            batch = persons[start : start + cols * rows]
            canvas, cells = mosaic(frame, [p.box for p in batch], (w, h), cell, cols)
            blob = cv2.dnn.blobFromImage(canvas, 1 / 255.0, swapRB=True)
            raw = self.backend.run(blob)
            found = decode_yolo(
                raw,
                Letterbox(1.0, 0.0, 0.0),
                canvas.shape,
                self.conf * 0.7,
                self.iou,
                ("person",),
                keypoints=17,
            )
            for det, (rect, origin, scale) in zip(batch, cells, strict=True):
                best = _best_in_cell(found, rect)
                if best is None or best.keypoints is None:
                    continue
                kp = best.keypoints.copy()
                kp[:, 0] = (kp[:, 0] - rect[0]) / scale + origin[0]
                kp[:, 1] = (kp[:, 1] - rect[1]) / scale + origin[1]
                out.append(Detection(det.box, det.score, det.cls, det.label, kp))
        return out


Cell = tuple[tuple[int, int, int, int], tuple[float, float], float]


def mosaic(
    frame: np.ndarray,
    boxes: list[Box],
    size: tuple[int, int],
    cell: tuple[int, int],
    cols: int,
    margin: float = 0.15,
) -> tuple[np.ndarray, list[Cell]]:
    """Crops of ``boxes`` (with a margin), each scaled into its cell of a grey canvas.

    Returns the canvas and, per box, (cell rectangle x, y, w, h in the canvas, crop origin in
    the frame, scale from frame to canvas pixels).
    """
    canvas = np.full((size[1], size[0], 3), 114, np.uint8)
    fh, fw = frame.shape[:2]
    cells: list[Cell] = []
    for n, (x1, y1, x2, y2) in enumerate(boxes):
        mx, my = (x2 - x1) * margin, (y2 - y1) * margin
        cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        cx2, cy2 = min(fw, int(np.ceil(x2 + mx))), min(fh, int(np.ceil(y2 + my)))
        crop = frame[cy1:cy2, cx1:cx2]
        scale = min(cell[0] / max(1, crop.shape[1]), cell[1] / max(1, crop.shape[0]))
        nw, nh = max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale))
        ox, oy = (n % cols) * cell[0], (n // cols) * cell[1]
        if crop.size:
            canvas[oy : oy + nh, ox : ox + nw] = cv2.resize(crop, (nw, nh))
        cells.append(((ox, oy, nw, nh), (float(cx1), float(cy1)), scale))
    return canvas, cells


def _best_in_cell(found: list[Detection], rect: tuple[int, int, int, int]) -> Detection | None:
    x, y, w, h = rect
    inside = [
        d
        for d in found
        if x <= (d.box[0] + d.box[2]) / 2 <= x + w and y <= (d.box[1] + d.box[3]) / 2 <= y + h
    ]
    return max(inside, key=lambda d: d.score, default=None)
