"""Video intelligent analysis (V1-V20): decoding, detectors, zones, alarm timing, snapshots.

FFmpeg's and OpenCV's console chatter about damaged packets would drown the log; what matters
reaches the caller as a SourceEvent or a VideoSourceError. Set before cv2 is first imported.
"""

import os

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
