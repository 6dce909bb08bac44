"""Stylization conditions: the motion and structure of a video, drawn as videos the video
tokenizer can encode.

- Motion: dense optical flow between consecutive frames (OpenCV's Farneback estimator), drawn
  on the usual colour wheel: hue is the direction, brightness the speed (full at
  `FLOW_FULL_SCALE` of the picture width per frame, a fixed scale so speeds compare across
  clips). Frame 0 shows the flow from frame 0 to 1.
- Structure: our choice of a depth-like map is the edge map: the Sobel gradient magnitude of
  the luminance, slightly blurred, in grey. It keeps outlines and layout and drops colour and
  texture, which is what a stylization prompt is free to change.
"""

from __future__ import annotations

import numpy as np

FLOW_FULL_SCALE = 0.05  # picture widths per frame drawn at full brightness
EDGE_FULL_SCALE = 0.5  # gradient magnitude (in grey levels / 255 per pixel) drawn as white


def _cv2():
    try:
        import cv2
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise RuntimeError("stylization conditions need OpenCV: pip install opencv-python-headless") from error
    return cv2


def _check_frames(frames: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got shape {frames.shape} and dtype {frames.dtype}")


def optical_flow_video(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T, H, W, 3) uint8 flow drawings (see the module docstring)."""
    _check_frames(frames)
    cv2 = _cv2()
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    if len(grey) == 1:
        return np.zeros_like(frames)
    pairs = [(grey[0], grey[1])] + [(grey[t - 1], grey[t]) for t in range(1, len(grey))]
    width = frames.shape[2]
    out = np.empty_like(frames)
    for t, (before, after) in enumerate(pairs):
        flow = cv2.calcOpticalFlowFarneback(before, after, None, 0.5, 3, 9, 3, 5, 1.1, 0)
        magnitude, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1])
        hsv = np.empty(frames.shape[1:], dtype=np.uint8)
        hsv[..., 0] = (angle * 90 / np.pi).astype(np.uint8)  # OpenCV hue is 0..179
        hsv[..., 1] = 255
        hsv[..., 2] = np.clip(magnitude / (FLOW_FULL_SCALE * width) * 255, 0, 255).astype(np.uint8)
        out[t] = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return out


def structure_video(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T, H, W, 3) uint8 grey edge maps (see the module docstring)."""
    _check_frames(frames)
    cv2 = _cv2()
    out = np.empty_like(frames)
    for t, frame in enumerate(frames):
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
        edges = cv2.GaussianBlur(np.sqrt(gx * gx + gy * gy), (3, 3), 0)
        out[t] = np.clip(edges / EDGE_FULL_SCALE * 255, 0, 255).astype(np.uint8)[..., None]
    return out
