"""Optical flow of a clip for the flow stream, and its 8-bit storage.

Flow is computed with OpenCV's DIS optical flow (`cv2.DISOpticalFlow_create`;
Farneback only if an OpenCV build lacks DIS) on grayscale frames at the
stored resolution, from each clip frame to the next clip frame. The last
frame has no successor and repeats the previous frame's flow (a one-frame
clip gets zero flow).

Storage (`SequenceExampleKeys.flow_x_encoded` / `flow_y_encoded`): each
channel is clipped to `[-bound, bound]` pixels per frame and mapped linearly
to 0..255, `level = round((flow + bound) * 255 / (2 * bound))`; the inverse is
`flow = level * 2 * bound / 255 - bound`, so 0 px is level 127.5 and one level
is `2 * bound / 255` px. Each channel is stored as a grayscale JPEG.
"""

from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from acrn_tf.data.conversion import video_io

DEFAULT_FLOW_BOUND = 20.0
DEFAULT_PRESET = 'medium'
DEFAULT_FLOW_JPEG_QUALITY = 95
PRESETS = ('ultrafast', 'fast', 'medium')


class FlowEstimator:
  """Dense optical flow between two grayscale frames.

  One estimator holds OpenCV state and is not thread-safe: create one per
  thread.
  """

  def __init__(self, preset: str = DEFAULT_PRESET):
    """Creates the estimator.

    Args:
      preset: DIS preset, one of PRESETS (speed against accuracy).

    Raises:
      ValueError: for an unknown preset.
    """
    if preset not in PRESETS:
      raise ValueError(f'flow preset must be one of {PRESETS}, got '
                       f'{preset!r}')
    self.preset = preset
    if hasattr(cv2, 'DISOpticalFlow_create'):
      code = getattr(cv2, f'DISOPTICAL_FLOW_PRESET_{preset.upper()}')
      self._dis = cv2.DISOpticalFlow_create(code)
    else:
      self._dis = None

  @property
  def method(self) -> str:
    """'dis' or 'farneback'."""
    return 'dis' if self._dis is not None else 'farneback'

  def __call__(self, previous: np.ndarray, following: np.ndarray
               ) -> np.ndarray:
    """Flow from `previous` to `following`, uint8 grayscale `[H, W]` each.

    Returns:
      float32 `[H, W, 2]`, (x, y) displacement in pixels: the content at
      pixel p of `previous` is at p + flow[p] in `following`.
    """
    if self._dis is not None:
      return self._dis.calc(previous, following, None)
    return cv2.calcOpticalFlowFarneback(previous, following, None, 0.5, 3,
                                        15, 3, 5, 1.2, 0)


def to_gray(frame: np.ndarray) -> np.ndarray:
  """uint8 RGB `[H, W, 3]` -> uint8 grayscale `[H, W]`."""
  return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def clip_flow(frames: Sequence[np.ndarray],
              estimator: Optional[FlowEstimator] = None) -> np.ndarray:
  """Flow of every clip frame to the next (the last repeats the previous).

  Args:
    frames: uint8 RGB `[T, H, W, 3]` (or T arrays `[H, W, 3]`).
    estimator: a FlowEstimator (default: a new one with the default preset).

  Returns:
    float32 `[T, H, W, 2]`, (x, y) in pixels per clip frame.
  """
  estimator = estimator or FlowEstimator()
  gray = [to_gray(f) for f in frames]
  height, width = gray[0].shape
  flows = [estimator(a, b) for a, b in zip(gray[:-1], gray[1:])]
  flows.append(flows[-1] if flows else
               np.zeros((height, width, 2), np.float32))
  return np.stack(flows).astype(np.float32)


def quantise_flow(flow: np.ndarray,
                  bound: float = DEFAULT_FLOW_BOUND) -> np.ndarray:
  """Clips flow to [-bound, bound] and maps it linearly to uint8 0..255."""
  if not bound > 0:
    raise ValueError(f'flow bound must be > 0, got {bound}')
  clipped = np.clip(np.asarray(flow, np.float64), -bound, bound)
  return np.floor((clipped + bound) * (255.0 / (2.0 * bound)) + 0.5).astype(
      np.uint8)


def dequantise_flow(quantised: np.ndarray,
                    bound: float = DEFAULT_FLOW_BOUND) -> np.ndarray:
  """The inverse of `quantise_flow`: uint8 levels -> float32 pixels."""
  if not bound > 0:
    raise ValueError(f'flow bound must be > 0, got {bound}')
  return (np.asarray(quantised, np.float32) * (2.0 * bound / 255.0) -
          bound).astype(np.float32)


def encode_flow(quantised: np.ndarray,
                quality: int = DEFAULT_FLOW_JPEG_QUALITY
                ) -> Tuple[List[bytes], List[bytes]]:
  """JPEG-encodes quantised flow uint8 `[T, H, W, 2]` per frame and channel.

  Returns:
    (x_jpegs, y_jpegs): T grayscale JPEGs each.
  """
  if quantised.ndim != 4 or quantised.shape[-1] != 2:
    raise ValueError(f'quantised flow must be [T, H, W, 2], got '
                     f'{quantised.shape}')
  x_jpegs = [video_io.encode_jpeg(np.ascontiguousarray(q[..., 0]), quality)
             for q in quantised]
  y_jpegs = [video_io.encode_jpeg(np.ascontiguousarray(q[..., 1]), quality)
             for q in quantised]
  return x_jpegs, y_jpegs


def decode_flow(x_jpegs: Sequence[bytes], y_jpegs: Sequence[bytes],
                bound: float) -> np.ndarray:
  """Decodes stored flow JPEGs back to float32 `[T, H, W, 2]` pixels."""
  levels = np.stack([
      np.stack([video_io.decode_jpeg(x, grayscale=True),
                video_io.decode_jpeg(y, grayscale=True)], axis=-1)
      for x, y in zip(x_jpegs, y_jpegs)])
  return dequantise_flow(levels, bound)
