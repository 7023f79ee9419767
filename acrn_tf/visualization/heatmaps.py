"""Relation heat maps (CAM, paper 4.4): computing them and drawing them.

Computing (TensorFlow): the classifier weights that multiply f_RN, applied
as a 1 x 1 convolution to the relation map before average pooling, give a
map per actor and per class (class activation mapping, Zhou et al. 2016).
Since f_RN is the spatial mean of the relation map and the classifier is
linear, the CAM averaged over locations is exactly the relation part of the
class logit (without the bias). `detection_heatmaps` picks, per detection,
the map of its proposal and top class.

Drawing (numpy / OpenCV): `colorize_heatmap` upsamples a heat map to the
frame, normalises it to [0, 1] and colour-maps it (COLORMAP_JET);
`blend_heatmap` alpha-blends that onto a frame; `draw_box_with_label`
draws an actor's box and its label. Frames are RGB uint8 [height, width, 3],
as everywhere in the project (convert to BGR before `cv2.imwrite` or a
`cv2.VideoWriter`).
"""

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import tensorflow as tf

Color = Tuple[int, int, int]


def class_activation_maps(relation_maps: tf.Tensor,
                          relation_kernel: tf.Tensor) -> tf.Tensor:
  """Per-class heat maps of each actor's relation map.

  Args:
    relation_maps: float32 [batch, num_boxes, h, w, d] (or [batch,
      num_boxes, t, h, w, d], averaged over t first), the relation map
      before average pooling.
    relation_kernel: float32 [d, num_logits], the rows of the classifier's
      kernel that multiply f_RN.

  Returns:
    float32 [batch, num_boxes, h, w, num_logits]; its mean over h and w is
    f_RN @ relation_kernel.

  Raises:
    ValueError: the channels of the two do not match or a rank is wrong.
  """
  if relation_maps.shape.rank == 6:
    relation_maps = tf.reduce_mean(relation_maps, axis=2)
  if relation_maps.shape.rank != 5:
    raise ValueError('relation_maps must be [batch, num_boxes, (t,) h, w, d], '
                     f'got shape {relation_maps.shape}.')
  if (relation_kernel.shape.rank != 2 or
      relation_kernel.shape[0] != relation_maps.shape[-1]):
    raise ValueError(f'relation_kernel must be [{relation_maps.shape[-1]}, '
                     f'num_logits], got shape {relation_kernel.shape}.')
  # float32 like the classifier, whatever the maps' (mixed) precision.
  return tf.einsum('brhwd,dk->brhwk', tf.cast(relation_maps, tf.float32),
                   tf.cast(relation_kernel, tf.float32))


def detection_heatmaps(cams: tf.Tensor, box_indices: tf.Tensor,
                       logit_indices: tf.Tensor) -> tf.Tensor:
  """Each detection's heat map: its proposal's CAM for its class.

  Args:
    cams: float32 [batch, num_boxes, h, w, num_logits] from
      `class_activation_maps`.
    box_indices: int32 [batch, max_detections], the proposal each detection
      came from; negative for padded detections.
    logit_indices: int32 [batch, max_detections], the logit column of each
      detection's class (e.g. the label-map id for logits with a background
      column, id - 1 without).

  Returns:
    float32 [batch, max_detections, h, w]; zeros for padded detections.
  """
  box_indices = tf.cast(box_indices, tf.int32)
  logit_indices = tf.cast(logit_indices, tf.int32)
  valid = box_indices >= 0
  num_logits = tf.shape(cams)[-1]
  # [batch, num_boxes, num_logits, h, w]: gather (box, logit) pairs.
  per_logit = tf.transpose(cams, [0, 1, 4, 2, 3])
  indices = tf.stack([tf.maximum(box_indices, 0),
                      tf.clip_by_value(logit_indices, 0, num_logits - 1)],
                     axis=-1)
  heatmaps = tf.gather_nd(per_logit, indices, batch_dims=1)
  return tf.where(valid[..., None, None], heatmaps, tf.zeros_like(heatmaps))


def normalize_heatmap(heatmap: np.ndarray) -> np.ndarray:
  """Min-max normalises a heat map to [0, 1] (a constant map gives zeros).

  Args:
    heatmap: float [h, w].

  Returns:
    float32 [h, w] in [0, 1].
  """
  heatmap = np.asarray(heatmap, np.float32)
  if heatmap.ndim != 2:
    raise ValueError(f'heatmap must be [h, w], got shape {heatmap.shape}.')
  low, high = float(heatmap.min()), float(heatmap.max())
  if not np.isfinite(low) or not np.isfinite(high):
    raise ValueError('heatmap has non-finite values.')
  if high - low <= 0:
    return np.zeros_like(heatmap)
  return (heatmap - low) / (high - low)


def colorize_heatmap(heatmap: np.ndarray, height: int, width: int,
                     colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
  """Upsamples, normalises and colour-maps a heat map to a frame's size.

  Args:
    heatmap: float [h, w] covering the whole frame.
    height: frame height in pixels.
    width: frame width in pixels.
    colormap: an OpenCV colour map (default COLORMAP_JET: blue low, red
      high).

  Returns:
    uint8 RGB [height, width, 3].
  """
  heatmap = np.asarray(heatmap, np.float32)
  if heatmap.ndim != 2:
    raise ValueError(f'heatmap must be [h, w], got shape {heatmap.shape}.')
  if height < 1 or width < 1:
    raise ValueError(f'frame size must be positive, got {height}x{width}.')
  resized = cv2.resize(heatmap, (width, height),
                       interpolation=cv2.INTER_LINEAR)
  scaled = np.round(normalize_heatmap(resized) * 255.0).astype(np.uint8)
  return cv2.cvtColor(cv2.applyColorMap(scaled, colormap), cv2.COLOR_BGR2RGB)


def _check_frame(frame: np.ndarray) -> np.ndarray:
  frame = np.asarray(frame)
  if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
    raise ValueError('frame must be uint8 RGB [height, width, 3], got '
                     f'{frame.dtype} {frame.shape}.')
  return frame


def blend_heatmap(frame: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5,
                  colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
  """Alpha-blends a colour-mapped heat map onto a frame.

  Args:
    frame: uint8 RGB [height, width, 3].
    heatmap: float [h, w] covering the whole frame.
    alpha: weight of the heat map, in [0, 1] (0 returns the frame).
    colormap: an OpenCV colour map.

  Returns:
    uint8 RGB [height, width, 3]: (1 - alpha) * frame + alpha * colours.
  """
  frame = _check_frame(frame)
  if not 0.0 <= alpha <= 1.0:
    raise ValueError(f'alpha must be in [0, 1], got {alpha}.')
  colors = colorize_heatmap(heatmap, frame.shape[0], frame.shape[1], colormap)
  return cv2.addWeighted(frame, 1.0 - alpha, colors, alpha, 0.0)


def draw_box_with_label(frame: np.ndarray, box_normalized: Sequence[float],
                        label: Optional[str] = None,
                        color: Color = (0, 255, 0),
                        thickness: int = 2) -> np.ndarray:
  """Draws a box and, above its top-left corner, a label on a filled tab.

  Args:
    frame: uint8 RGB [height, width, 3] (not modified).
    box_normalized: [ymin, xmin, ymax, xmax] in [0, 1] of the frame.
    label: text to write (None or empty: the box only).
    color: RGB colour of the box and the tab; the text is black or white,
      whichever reads better on it.
    thickness: line thickness in pixels.

  Returns:
    A uint8 RGB copy of the frame with the box drawn.
  """
  frame = _check_frame(frame).copy()
  box = np.asarray(box_normalized, np.float64)
  if box.shape != (4,):
    raise ValueError(f'box_normalized must be [ymin, xmin, ymax, xmax], got '
                     f'{box_normalized}.')
  height, width = frame.shape[:2]
  ymin, xmin, ymax, xmax = np.clip(box, 0.0, 1.0) * [height - 1, width - 1,
                                                     height - 1, width - 1]
  top_left = (int(round(xmin)), int(round(ymin)))
  bottom_right = (int(round(xmax)), int(round(ymax)))
  color = tuple(int(c) for c in color)
  cv2.rectangle(frame, top_left, bottom_right, color, thickness)
  if label:
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.4
    (text_width, text_height), baseline = cv2.getTextSize(label, font, scale,
                                                          1)
    tab_height = text_height + baseline + 2
    # Above the box if there is room, else inside it.
    tab_top = top_left[1] - tab_height
    if tab_top < 0:
      tab_top = top_left[1]
    cv2.rectangle(frame, (top_left[0], tab_top),
                  (top_left[0] + text_width + 2, tab_top + tab_height),
                  color, cv2.FILLED)
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    text_color = (0, 0, 0) if luminance > 128 else (255, 255, 255)
    cv2.putText(frame, label, (top_left[0] + 1, tab_top + text_height + 1),
                font, scale, text_color, 1, cv2.LINE_AA)
  return frame
