"""Draws detections and per-actor relation heat maps on frames; writes a video.

Every frame shows the detections of the nearest keyframe at or before it:
each box whose top score reaches `min_score`, numbered by descending score
(`#1`, `#2`, ...) and labelled with its classes scoring at least
`min_score` (best first, at most three). A relation heat map (one `[h, w]`
CAM per detection, covering the whole frame) belongs to one actor, so each
is drawn on its own: beside the frame, a grid of `heatmap_panels` panels
(half the frame's size each, two rows filled row by row; one full-size
panel when there is one) shows, for the best actors in order (`#1` top
left), the frame with that actor's map
min-max normalised and blended over it and only that actor's box and
number drawn (the paper's figure 5 shows one actor at a time too). A
frame at least `WIDE_ASPECT` times as wide as high (a panorama, the
synthetic `stage` preset) gets the grid below it instead, two panels per
row, so the picture does not grow four frames wide. The
frame itself carries no heat map. Panels of actors that are not there stay
black, so every frame of a video has the same size; `heatmap_panels=0`
(and models without heat maps) gives the frame alone.

`VideoRenderer` streams: a frame waits only until its keyframe's detections
arrive, which `VideoStream` delivers one clip span after the keyframe at
most, so it holds at most one span of frames. The video is written with
OpenCV (`mp4v` in .mp4, which OpenCV reads back) under a temporary name and
renamed when closed; keyframes can also be saved as PNGs.
"""

import collections
import contextlib
import os
from typing import Dict, Mapping, Optional, Sequence, Tuple

from absl import logging
import cv2
import numpy as np

from acrn_tf.core import standard_fields
from acrn_tf.evaluation import reporting
from acrn_tf.inference import video_stream
from acrn_tf.visualization import heatmaps

_det = standard_fields.DetectionResultFields

RENDERED_VIDEO_NAME = 'rendered.mp4'
FOURCC = 'mp4v'
DEFAULT_MIN_SCORE = 0.5
DEFAULT_HEATMAP_ALPHA = 0.4
DEFAULT_HEATMAP_PANELS = 4
# Frames at least this many times as wide as high get the panels below.
WIDE_ASPECT = 2.0
MAX_LABELS_PER_BOX = 3
# Distinct RGB colours for the classes (label id modulo their number).
_PALETTE = ((0, 255, 0), (255, 128, 0), (0, 160, 255), (255, 0, 255),
            (255, 255, 0), (0, 255, 255), (255, 64, 64), (160, 96, 255))


class RenderingError(ValueError):
  """An output that cannot be written; the message names the path."""


def class_color(label_id: int) -> Tuple[int, int, int]:
  """The RGB colour of a class."""
  return _PALETTE[int(label_id) % len(_PALETTE)]


def box_label(detection_index: int, detections: Mapping[str, np.ndarray],
              label_ids: Sequence[int], label_map: Mapping[int, str],
              min_score: float) -> str:
  """The text of one detection: `name score` of its classes >= min_score.

  Falls back to the top class alone when the model gives no multiclass
  scores (or none of them reach min_score).
  """
  parts = []
  multiclass = detections.get(_det.detection_multiclass_scores)
  if multiclass is not None:
    row = np.asarray(multiclass[detection_index], np.float64)
    for column in np.argsort(-row, kind='stable')[:MAX_LABELS_PER_BOX]:
      if row[column] >= min_score:
        label_id = int(label_ids[column])
        parts.append(f'{label_map.get(label_id, str(label_id))} '
                     f'{row[column]:.2f}')
  if not parts:
    label_id = int(detections[_det.detection_classes][detection_index])
    score = float(detections[_det.detection_scores][detection_index])
    parts.append(f'{label_map.get(label_id, str(label_id))} {score:.2f}')
  return ', '.join(parts)


def shown_detections(detections: Mapping[str, np.ndarray],
                     min_score: float) -> np.ndarray:
  """Indices of the detections scoring at least min_score, best first."""
  scores = np.asarray(detections[_det.detection_scores]).reshape(-1)
  shown = np.nonzero(scores >= min_score)[0]
  return shown[np.argsort(-scores[shown], kind='stable')]


def panels_below(height: int, width: int) -> bool:
  """Whether the heat-map panels go below the frame (a wide frame)."""
  return width >= WIDE_ASPECT * height


def panel_grid_shape(num_panels: int, height: int,
                     width: int) -> Tuple[int, int, int, int]:
  """(rows, columns, panel height, panel width) of the heat-map panels.

  One panel is frame-sized; more are half-sized. Beside the frame they fill
  two rows, so the grid is as high as the frame and `ceil(num_panels / 2)`
  half-widths wide; below a wide frame (`panels_below`) they fill two
  columns, as wide as the frame and `ceil(num_panels / 2)` half-heights
  high.
  """
  if num_panels < 1:
    raise ValueError(f'num_panels must be >= 1, got {num_panels}')
  if num_panels == 1:
    return 1, 1, height, width
  halves = -(-num_panels // 2)
  rows, columns = ((halves, 2) if panels_below(height, width)
                   else (2, halves))
  return rows, columns, max(height // 2, 1), max(width // 2, 1)


def actor_panel(frame: np.ndarray, heatmap: np.ndarray,
                box_normalized: Sequence[float], label: str,
                color: Tuple[int, int, int], size: Tuple[int, int],
                heatmap_alpha: float = DEFAULT_HEATMAP_ALPHA) -> np.ndarray:
  """One actor's panel: its heat map over the frame, and its box only.

  Args:
    frame: uint8 RGB `[height, width, 3]`.
    heatmap: float `[h, w]`, the actor's map covering the whole frame.
    box_normalized: the actor's `[ymin, xmin, ymax, xmax]`.
    label: the text of its box.
    color: RGB of its box.
    size: (height, width) of the panel; the blend is resized to it before
      the box is drawn, so the label keeps its size.
    heatmap_alpha: weight of the heat map colours in the blend.

  Returns:
    uint8 RGB `[size[0], size[1], 3]`.
  """
  # blend_heatmap min-max normalises the map: each actor's own range.
  blended = heatmaps.blend_heatmap(frame, heatmap, alpha=heatmap_alpha)
  if tuple(blended.shape[:2]) != tuple(size):
    blended = cv2.resize(blended, (size[1], size[0]),
                         interpolation=cv2.INTER_AREA)
  return heatmaps.draw_box_with_label(blended, box_normalized, label,
                                      color=color)


def render_frame(frame: np.ndarray,
                 detections: Optional[Mapping[str, np.ndarray]],
                 label_map: Mapping[int, str],
                 min_score: float = DEFAULT_MIN_SCORE,
                 heatmap_alpha: float = DEFAULT_HEATMAP_ALPHA,
                 min_shorter_side: int = 0,
                 heatmap_panels: int = DEFAULT_HEATMAP_PANELS) -> np.ndarray:
  """A copy of the frame with the detections drawn, and heat-map panels.

  Args:
    frame: uint8 RGB `[height, width, 3]`.
    detections: a `Detector.detect` dict (boxes normalised
      `[ymin, xmin, ymax, xmax]`), or None for a frame without detections.
    label_map: label id -> class name (its ascending ids are the
      multiclass score columns).
    min_score: detections whose top score is lower are not drawn.
    heatmap_alpha: weight of the heat map colours in the blend.
    min_shorter_side: a smaller frame is first enlarged (bilinear, aspect
      kept) so its shorter side has this many pixels, so that labels stay
      readable on low-resolution video; 0 keeps the size.
    heatmap_panels: the panels beside (or below) the frame, one per actor
      with its own heat map (module docstring); 0 draws the frame alone.

  Returns:
    uint8 RGB `[height', width' + grid width, 3]`: the frame's size, or the
    enlarged one, plus the panel grid (`panel_grid_shape`) on its right;
    for a wide frame (`panels_below`), `[height' + grid height, width', 3]`
    with the grid below.
  """
  frame = enlarge_to_shorter_side(np.asarray(frame), min_shorter_side)
  height, width = frame.shape[:2]
  shown = (shown_detections(detections, min_score)
           if detections is not None else np.zeros([0], np.int64))
  drawn = frame.copy()
  label_ids = sorted(label_map)
  labels = []
  for number, i in enumerate(shown, start=1):
    label_id = int(detections[_det.detection_classes][i])
    labels.append(f'#{number} ' + box_label(i, detections, label_ids,
                                            label_map, min_score))
    drawn = heatmaps.draw_box_with_label(
        drawn, detections[_det.detection_boxes][i], labels[-1],
        color=class_color(label_id))
  if heatmap_panels <= 0:
    return drawn
  rows, columns, panel_height, panel_width = panel_grid_shape(
      heatmap_panels, height, width)
  below = panels_below(height, width)
  grid = np.zeros((rows * panel_height, width, 3) if below
                  else (height, columns * panel_width, 3), np.uint8)
  maps = None if detections is None else detections.get(
      _det.relation_heatmaps)
  if maps is not None:
    for k, i in enumerate(shown[:heatmap_panels]):
      row, column = k // columns, k % columns
      label_id = int(detections[_det.detection_classes][i])
      grid[row * panel_height:(row + 1) * panel_height,
           column * panel_width:(column + 1) * panel_width] = actor_panel(
               frame, maps[i], detections[_det.detection_boxes][i],
               labels[k], class_color(label_id), (panel_height, panel_width),
               heatmap_alpha)
  return np.concatenate([drawn, grid], axis=0 if below else 1)


def enlarge_to_shorter_side(frame: np.ndarray,
                            min_shorter_side: int) -> np.ndarray:
  """`frame` enlarged so its shorter side is `min_shorter_side` (if below)."""
  height, width = frame.shape[:2]
  if min_shorter_side <= 0 or min(height, width) >= min_shorter_side:
    return frame
  scale = min_shorter_side / min(height, width)
  size = (int(round(width * scale)), int(round(height * scale)))
  return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)


def write_png(path: str, frame: np.ndarray) -> None:
  """Writes a uint8 RGB frame as a PNG, atomically."""
  ok, encoded = cv2.imencode('.png', cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  if not ok:
    raise RenderingError(f'{path}: OpenCV cannot encode a frame of shape '
                         f'{frame.shape} as PNG')
  with reporting.atomic_output(path) as temporary:
    with open(temporary, 'wb') as f:
      f.write(encoded.tobytes())


class VideoRenderer:
  """Writes rendered frames in order as detections arrive (module doc).

  Use as a context manager, or call `close()` (keeps the video) or
  `abort()` (removes the partial file).
  """

  def __init__(self, path: Optional[str], fps: float,
               keyframe_numbers: Sequence[int], label_map: Mapping[int, str],
               min_score: float = DEFAULT_MIN_SCORE,
               heatmap_alpha: float = DEFAULT_HEATMAP_ALPHA,
               keyframes_dir: Optional[str] = None,
               keyframe_name_prefix: str = 'keyframe',
               min_shorter_side: int = 0,
               heatmap_panels: int = DEFAULT_HEATMAP_PANELS):
    """Prepares the writer (opened on the first frame, which gives the size).

    Args:
      path: the .mp4 to write, or None to write no video (keyframe PNGs
        only).
      fps: frame rate of the output.
      keyframe_numbers: the increasing keyframes whose detections will come.
      label_map: label id -> class name.
      min_score: see `render_frame`.
      heatmap_alpha: see `render_frame`.
      keyframes_dir: if set, each rendered keyframe is also saved there as
        `<prefix>_<frame:06d>.png` (created if needed).
      keyframe_name_prefix: the PNG names' prefix.
      min_shorter_side: see `render_frame`.
      heatmap_panels: see `render_frame` (0 for models without heat maps).
    """
    self._path = path
    self._fps = float(fps)
    self._keyframes = list(keyframe_numbers)
    self._label_map = dict(label_map)
    self._min_score = min_score
    self._heatmap_alpha = heatmap_alpha
    self._keyframes_dir = keyframes_dir
    self._prefix = keyframe_name_prefix
    self._min_shorter_side = min_shorter_side
    self._heatmap_panels = heatmap_panels
    self._detections: Dict[int, Mapping[str, np.ndarray]] = {}
    self._pending = collections.deque()  # (frame_number, frame), in order.
    self._writer = None
    self._stack = contextlib.ExitStack()
    self._temporary = None
    self.frames_done = 0  # frames that left the delay buffer
    self.frames_written = 0  # frames written to the video
    self.keyframes_saved = 0
    self.max_frames_pending = 0
    if keyframes_dir:
      os.makedirs(keyframes_dir, exist_ok=True)

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc_value, traceback):
    if exc_type is None:
      self.close()
    else:
      self.abort()

  def add_frame(self, frame_number: int, frame: np.ndarray) -> None:
    """Queues the next frame (uint8 RGB `[H, W, 3]`) of the output."""
    self._pending.append((int(frame_number), frame))
    self.max_frames_pending = max(self.max_frames_pending, len(self._pending))
    self._flush(final=False)

  def add_detections(self, keyframe_number: int,
                     detections: Mapping[str, np.ndarray]) -> None:
    """The detections of a keyframe; writes the frames that waited on it."""
    self._detections[int(keyframe_number)] = detections
    self._flush(final=False)

  def _flush(self, final: bool) -> None:
    while self._pending:
      number, frame = self._pending[0]
      keyframe = video_stream.keyframe_for_frame(self._keyframes, number)
      if keyframe is not None and keyframe not in self._detections:
        if not final:
          return
        # Its keyframe never came (the video ended early): the latest that
        # did.
        done = [k for k in self._detections if k <= number]
        keyframe = max(done) if done else None
      self._pending.popleft()
      # Only the latest keyframe's detections are needed from now on.
      for old in [k for k in self._detections
                  if keyframe is not None and k < keyframe]:
        del self._detections[old]
      self._write(number, frame, keyframe)

  def _write(self, number: int, frame: np.ndarray,
             keyframe: Optional[int]) -> None:
    self.frames_done += 1
    save_png = bool(self._keyframes_dir) and keyframe == number
    if not self._path and not save_png:
      return
    detections = None if keyframe is None else self._detections[keyframe]
    rendered = render_frame(frame, detections, self._label_map,
                            self._min_score, self._heatmap_alpha,
                            self._min_shorter_side, self._heatmap_panels)
    if self._path:
      if self._writer is None:
        self._open(rendered.shape[0], rendered.shape[1])
      self._writer.write(cv2.cvtColor(rendered, cv2.COLOR_RGB2BGR))
      self.frames_written += 1
    if save_png:
      write_png(os.path.join(self._keyframes_dir,
                             f'{self._prefix}_{number:06d}.png'), rendered)
      self.keyframes_saved += 1

  def _open(self, height: int, width: int) -> None:
    self._temporary = self._stack.enter_context(
        reporting.atomic_output(self._path))
    writer = cv2.VideoWriter(self._temporary,
                             cv2.VideoWriter_fourcc(*FOURCC), self._fps,
                             (width, height))
    if not writer.isOpened():
      self.abort()
      raise RenderingError(f'{self._path}: OpenCV cannot write an {FOURCC} '
                           f'video of {width}x{height} at {self._fps:g} fps')
    self._writer = writer

  def close(self) -> Optional[str]:
    """Writes the frames still waiting, finishes and renames the video.

    Returns:
      The video's path, or None if no video was written.
    """
    self._flush(final=True)
    if self._writer is None:
      self._stack.close()
      if self._path:
        logging.warning('%s: no frame to write', self._path)
      return None
    self._writer.release()
    self._writer = None
    self._stack.close()  # Renames the temporary file.
    return self._path

  def abort(self) -> None:
    """Drops the partial video."""
    self._pending.clear()
    if self._writer is not None:
      self._writer.release()
      self._writer = None
    # Closing the stack with an exception makes atomic_output remove the
    # temporary file instead of renaming it.
    error = RenderingError(f'{self._path}: rendering aborted')
    self._stack.__exit__(RenderingError, error, None)
