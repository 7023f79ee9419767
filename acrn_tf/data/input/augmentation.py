"""Clip augmentation: one random draw applied to every frame, flow and box.

Pure functions, tensors in and tensors out. Randomness comes from stateless
ops driven by an explicit ``seed`` (int ``[2]``), so a pipeline that derives
each example's seed from a base seed and the example's position yields the
same augmentation on every run, whatever the parallelism.

Model Garden's ``official.vision.ops.preprocess_ops`` augmentations
(``random_horizontal_flip``, ``resize_and_crop_image``, ``color_jitter``) are
not used directly: they draw with stateful ``tf.random`` ops (not reproducible
under a parallel ``tf.data`` map), work on one image and keep the aspect ratio
with padding, whereas clips need one draw for all frames, the flow must be
flipped and rescaled with the frames, and frames are stretched to the
configured size. Their box helpers are reused (``box_ops`` flip and
intersection over area, ``augment.crop_normalized_boxes``).

Frames are ``[T, H, W, 3]`` RGB; the flow is ``[T, H, W, 2]`` (x, y) in
pixels per frame; boxes are ``[N, 4]`` normalised ``[ymin, xmin, ymax,
xmax]``.
"""

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import tensorflow as tf

from official.vision.ops import augment
from official.vision.ops import box_ops

from acrn_tf.core import standard_fields

_fields = standard_fields.InputDataFields

# Tensor-dict entries with one row per box, kept aligned with the boxes.
_PER_BOX_FIELDS = (_fields.groundtruth_classes, _fields.groundtruth_track_ids)


@dataclasses.dataclass(frozen=True)
class AugmentationOptions:
  """What `augment_and_resize` draws (the `Augmentation` proto's fields).

  Attributes:
    random_horizontal_flip: flip with probability 0.5.
    min_scale, max_scale: the scale-jitter factor range; the clip is resized
      to ``scale * output_size`` and then cropped (scale > 1) or padded at the
      bottom right (scale < 1) back to ``output_size``.
    min_crop_area_fraction: a random crop keeps at least this fraction of the
      frame area (1.0 disables).
    min_box_area_fraction: boxes keeping less than this fraction of their area
      after cropping are dropped.
    max_brightness_delta: brightness delta range, in [0, 1] units.
    max_contrast_delta, max_saturation_delta: factor ranges ``[1 - x, 1 + x]``.
    max_hue_delta: hue delta range (a full turn is 1).
  """
  random_horizontal_flip: bool = False
  min_scale: float = 1.0
  max_scale: float = 1.0
  min_crop_area_fraction: float = 1.0
  min_box_area_fraction: float = 0.3
  max_brightness_delta: float = 0.0
  max_contrast_delta: float = 0.0
  max_saturation_delta: float = 0.0
  max_hue_delta: float = 0.0

  @property
  def crops(self) -> bool:
    return self.min_crop_area_fraction < 1.0 or self.max_scale > 1.0

  @property
  def pads(self) -> bool:
    return self.min_scale < 1.0

  @property
  def photometric(self) -> bool:
    return any((self.max_brightness_delta, self.max_contrast_delta,
                self.max_saturation_delta, self.max_hue_delta))


def flip_left_right(
    frames: tf.Tensor, boxes: tf.Tensor, flow: Optional[tf.Tensor] = None
) -> Tuple[tf.Tensor, tf.Tensor, Optional[tf.Tensor]]:
  """Mirrors frames, normalised boxes and flow; the flow's x is negated.

  Args:
    frames: ``[T, H, W, C]``.
    boxes: float ``[N, 4]`` normalised.
    flow: optional float ``[T, H, W, 2]`` (x, y).

  Returns:
    The mirrored frames, boxes (``xmin' = 1 - xmax``, ``xmax' = 1 - xmin``)
    and flow.
  """
  frames = tf.reverse(frames, axis=[2])
  boxes = box_ops.horizontal_flip_boxes(boxes)
  if flow is not None:
    flow = tf.reverse(flow, axis=[2]) * tf.constant([-1.0, 1.0], flow.dtype)
  return frames, boxes, flow


def random_horizontal_flip(
    frames: tf.Tensor, boxes: tf.Tensor, seed: tf.Tensor,
    flow: Optional[tf.Tensor] = None, probability: float = 0.5
) -> Tuple[tf.Tensor, tf.Tensor, Optional[tf.Tensor]]:
  """`flip_left_right` with `probability`, one draw for the whole clip."""
  do_flip = tf.random.stateless_uniform([], seed) < probability
  flipped = flip_left_right(frames, boxes, flow)
  frames = tf.cond(do_flip, lambda: flipped[0], lambda: frames)
  boxes = tf.cond(do_flip, lambda: flipped[1], lambda: boxes)
  if flow is not None:
    flow = tf.cond(do_flip, lambda: flipped[2], lambda: flow)
  return frames, boxes, flow


def sample_crop_and_scale(
    seed: tf.Tensor, frame_size: tf.Tensor, output_size: Sequence[int],
    min_crop_area_fraction: float = 1.0, min_scale: float = 1.0,
    max_scale: float = 1.0) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Draws the pixel window to cut from the frames and its resized size.

  A crop keeping a fraction ``f ~ U[min_crop_area_fraction, 1]`` of the area,
  with a log-uniform aspect change that keeps both sides within the frame, is
  drawn first; then a scale ``s ~ U[min_scale, max_scale]``: for ``s > 1``
  the window shrinks to ``1 / s`` of the crop's sides at a random place
  (resizing by ``s`` and cropping back); for ``s < 1`` the window is resized
  to ``s * output_size`` (the caller pads the rest).

  Args:
    seed: int ``[2]`` stateless seed.
    frame_size: int ``[2]``, the frames' H and W.
    output_size: (height, width) of the model's frames.
    min_crop_area_fraction: in (0, 1].
    min_scale, max_scale: the scale range, 0 < min_scale <= max_scale.

  Returns:
    offset: int32 ``[2]``, top-left (y, x) of the window in pixels.
    size: int32 ``[2]``, the window's (height, width) in pixels, >= 1.
    resized_size: int32 ``[2]``, the size to resize the window to, at most
      `output_size`.
  """
  seeds = tf.random.experimental.stateless_split(seed, num=6)
  frame_size = tf.cast(frame_size, tf.int32)
  frame_size_float = tf.cast(frame_size, tf.float32)
  if min_crop_area_fraction < 1.0:
    area = tf.random.stateless_uniform([], seeds[0], min_crop_area_fraction,
                                       1.0)
    log_area = tf.math.log(area)
    log_aspect = tf.random.stateless_uniform([], seeds[1], 0.0, 1.0) * (
        -2.0 * log_area) + log_area
    fractions = tf.stack([tf.sqrt(area * tf.exp(log_aspect)),
                          tf.sqrt(area * tf.exp(-log_aspect))])
    size = _round_to_pixels(frame_size_float * fractions, frame_size)
    offset = _random_offsets(seeds[2], frame_size - size)
  else:
    size = frame_size
    offset = tf.zeros([2], tf.int32)
  output_size = tf.constant(output_size, tf.int32)
  resized_size = output_size
  if min_scale != 1.0 or max_scale != 1.0:
    scale = tf.random.stateless_uniform([], seeds[3], min_scale, max_scale)
    if max_scale > 1.0:
      inner_size = _round_to_pixels(
          tf.cast(size, tf.float32) / tf.maximum(scale, 1.0), size)
      offset += _random_offsets(seeds[4], size - inner_size)
      size = inner_size
    if min_scale < 1.0:
      resized_size = _round_to_pixels(
          tf.cast(output_size, tf.float32) * tf.minimum(scale, 1.0),
          output_size)
  return offset, size, resized_size


def crop_clip(
    frames: tf.Tensor, boxes: tf.Tensor, offset: tf.Tensor, size: tf.Tensor,
    min_box_area_fraction: float, flow: Optional[tf.Tensor] = None
) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor, Optional[tf.Tensor]]:
  """Cuts the pixel window out of every frame and drops cut-off boxes.

  Args:
    frames: ``[T, H, W, C]``.
    boxes: float ``[N, 4]`` normalised to the frame.
    offset: int ``[2]``, top-left (y, x) of the window in pixels.
    size: int ``[2]``, (height, width) of the window in pixels.
    min_box_area_fraction: a box is kept when at least this fraction of its
      area (and more than nothing) lies inside the window.
    flow: optional ``[T, H, W, 2]``; pixel displacements are unchanged.

  Returns:
    frames: ``[T, size[0], size[1], C]``.
    boxes: float ``[M, 4]`` normalised to the window, clipped to [0, 1].
    kept: int32 ``[M]``, indices of the kept boxes in the input, to gather
      their labels and track ids.
    flow: the cropped flow or None.
  """
  offset = tf.cast(offset, tf.int32)
  size = tf.cast(size, tf.int32)
  frame_size = tf.shape(frames)[1:3]
  begin = tf.concat([[0], offset, [0]], axis=0)
  frames = tf.slice(frames, begin, tf.concat([[-1], size, [-1]], axis=0))
  if flow is not None:
    flow = tf.slice(flow, begin, tf.concat([[-1], size, [-1]], axis=0))
  window = tf.cast(tf.concat([offset, offset + size], axis=0), tf.float32)
  window /= tf.cast(tf.tile(frame_size, [2]), tf.float32)
  boxes = tf.cast(boxes, tf.float32)
  area_fraction = box_ops.bbox_intersection_over_area(
      boxes[tf.newaxis], window[tf.newaxis, tf.newaxis])[0, :, 0]
  keep = tf.logical_and(area_fraction >= min_box_area_fraction,
                        area_fraction > 0.0)
  kept = tf.cast(tf.where(keep)[:, 0], tf.int32)
  boxes = augment.crop_normalized_boxes(
      tf.gather(boxes, kept), frame_size, size, offset)
  return frames, boxes, kept, flow


def resize_clip(
    frames: tf.Tensor, size: tf.Tensor, flow: Optional[tf.Tensor] = None
) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
  """Bilinear resize of every frame (and the flow, rescaling its values).

  Args:
    frames: ``[T, H, W, C]`` any real or uint8 dtype.
    size: int ``[2]``, the new (height, width).
    flow: optional float ``[T, H, W, 2]`` (x, y) pixels per frame; x is
      multiplied by ``width' / W`` and y by ``height' / H``.

  Returns:
    frames: float32 ``[T, size[0], size[1], C]``, values as in the input.
    flow: float32 ``[T, size[0], size[1], 2]`` or None.
  """
  size = tf.cast(size, tf.int32)
  old_size = tf.shape(frames)[1:3]
  same = tf.reduce_all(tf.equal(old_size, size))
  frames = tf.cond(same, lambda: tf.cast(frames, tf.float32),
                   lambda: tf.image.resize(frames, size))
  if flow is not None:
    factors = tf.cast(size, tf.float32) / tf.cast(old_size, tf.float32)
    flow = tf.cond(same, lambda: tf.cast(flow, tf.float32),
                   lambda: tf.image.resize(flow, size))
    flow *= tf.reverse(factors, axis=[0])  # (x, y) channels: (W, H) factors.
  return frames, flow


def adjust_clip_contrast(frames: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
  """Scales every value's distance to the clip's per-channel mean by `factor`.

  ``tf.image.adjust_contrast`` uses each frame's own mean, which gives every
  frame a different mapping (flicker); one mean for the clip gives them all
  the same.

  Args:
    frames: float ``[T, H, W, C]``.
    factor: float scalar.

  Returns:
    float ``[T, H, W, C]`` (not clipped).
  """
  mean = tf.reduce_mean(frames, axis=[0, 1, 2], keepdims=True)
  return (frames - mean) * factor + mean


def photometric_jitter(frames: tf.Tensor, seed: tf.Tensor,
                       max_brightness_delta: float = 0.0,
                       max_contrast_delta: float = 0.0,
                       max_saturation_delta: float = 0.0,
                       max_hue_delta: float = 0.0) -> tf.Tensor:
  """Random brightness, contrast, saturation and hue, the same on every frame.

  Applied in that order, each clipped to [0, 1], each skipped when its range
  is 0.

  Args:
    frames: float ``[T, H, W, 3]`` RGB in [0, 1].
    seed: int ``[2]`` stateless seed.
    max_brightness_delta: delta ``~ U[-x, x]`` added to every value.
    max_contrast_delta: factor ``~ U[1 - x, 1 + x]`` (`adjust_clip_contrast`).
    max_saturation_delta: factor ``~ U[1 - x, 1 + x]``.
    max_hue_delta: hue delta ``~ U[-x, x]``.

  Returns:
    float ``[T, H, W, 3]`` in [0, 1].
  """
  seeds = tf.random.experimental.stateless_split(seed, num=4)

  def draw(index, low, high):
    return tf.random.stateless_uniform([], seeds[index], low, high)

  if max_brightness_delta:
    frames = tf.image.adjust_brightness(
        frames, draw(0, -max_brightness_delta, max_brightness_delta))
    frames = tf.clip_by_value(frames, 0.0, 1.0)
  if max_contrast_delta:
    frames = adjust_clip_contrast(
        frames, draw(1, max(0.0, 1.0 - max_contrast_delta),
                     1.0 + max_contrast_delta))
    frames = tf.clip_by_value(frames, 0.0, 1.0)
  if max_saturation_delta:
    frames = tf.image.adjust_saturation(
        frames, draw(2, max(0.0, 1.0 - max_saturation_delta),
                     1.0 + max_saturation_delta))
    frames = tf.clip_by_value(frames, 0.0, 1.0)
  if max_hue_delta:
    frames = tf.image.adjust_hue(frames,
                                 draw(3, -max_hue_delta, max_hue_delta))
    frames = tf.clip_by_value(frames, 0.0, 1.0)
  return frames


def augment_and_resize(tensor_dict: Dict[str, tf.Tensor],
                       output_size: Sequence[int],
                       options: Optional[AugmentationOptions] = None,
                       seed: Optional[tf.Tensor] = None
                      ) -> Dict[str, tf.Tensor]:
  """Augments a decoded example (if `options`) and resizes it to the output.

  Args:
    tensor_dict: a decoded example keyed by `InputDataFields` (frames uint8
      ``[T, H, W, 3]``, optional flow ``[T, H, W, 2]``, groundtruth_boxes
      ``[N, 4]`` normalised, groundtruth_classes ``[N, K]``,
      groundtruth_track_ids ``[N]``, num_groundtruth_boxes).
    output_size: (height, width) of the output frames.
    options: the augmentation; None resizes only.
    seed: int ``[2]`` stateless seed, required with `options`.

  Returns:
    A new dict: frames uint8 ``[T, height, width, 3]``, flow float32
    ``[T, height, width, 2]`` (if given), the boxes and their per-box fields
    with dropped boxes removed, num_groundtruth_boxes updated and
    true_image_shape int32 ``[3]`` (the unpadded region).

  Raises:
    ValueError: with `options` but no `seed`.
  """
  if options is not None and seed is None:
    raise ValueError('augment_and_resize: a seed is needed with options')
  output = dict(tensor_dict)
  frames = tensor_dict[_fields.frames]
  flow = tensor_dict.get(_fields.flow)
  boxes = tf.cast(tensor_dict[_fields.groundtruth_boxes], tf.float32)
  num_frames = frames.shape[0]
  out_height, out_width = (int(v) for v in output_size)
  resized_size = tf.constant([out_height, out_width], tf.int32)
  seeds = (tf.random.experimental.stateless_split(seed, num=3)
           if options is not None else None)

  if options is not None and options.random_horizontal_flip:
    frames, boxes, flow = random_horizontal_flip(frames, boxes, seeds[0], flow)
  if options is not None and (options.crops or options.pads):
    offset, size, resized_size = sample_crop_and_scale(
        seeds[1], tf.shape(frames)[1:3], (out_height, out_width),
        options.min_crop_area_fraction, options.min_scale, options.max_scale)
    if options.crops:
      frames, boxes, kept, flow = crop_clip(
          frames, boxes, offset, size, options.min_box_area_fraction, flow)
      for key in _PER_BOX_FIELDS:
        if key in output:
          output[key] = tf.gather(output[key], kept)
  frames, flow = resize_clip(frames, resized_size, flow)
  if options is not None and options.photometric:
    frames = 255.0 * photometric_jitter(
        frames / 255.0, seeds[2], options.max_brightness_delta,
        options.max_contrast_delta, options.max_saturation_delta,
        options.max_hue_delta)
  frames = tf.cast(tf.round(tf.clip_by_value(frames, 0.0, 255.0)), tf.uint8)
  if options is not None and options.pads:
    frames = tf.image.pad_to_bounding_box(frames, 0, 0, out_height, out_width)
    if flow is not None:
      flow = tf.image.pad_to_bounding_box(flow, 0, 0, out_height, out_width)
    scale = tf.cast(resized_size, tf.float32) / tf.constant(
        [out_height, out_width], tf.float32)
    boxes *= tf.tile(scale, [2])

  frames.set_shape([num_frames, out_height, out_width, 3])
  output[_fields.frames] = frames
  if flow is not None:
    flow.set_shape([num_frames, out_height, out_width, 2])
    output[_fields.flow] = flow
  output[_fields.groundtruth_boxes] = boxes
  output[_fields.num_groundtruth_boxes] = tf.shape(boxes)[0]
  output[_fields.true_image_shape] = tf.concat(
      [resized_size, tf.constant([3], tf.int32)], axis=0)
  return output


def _round_to_pixels(sizes: tf.Tensor, upper: tf.Tensor) -> tf.Tensor:
  """Rounds float sizes to int32 within ``[1, upper]``."""
  return tf.clip_by_value(tf.cast(tf.round(sizes), tf.int32), 1,
                          tf.cast(upper, tf.int32))


def _random_offsets(seed: tf.Tensor, slack: tf.Tensor) -> tf.Tensor:
  """Uniform int32 ``[2]`` offsets in ``[0, slack]`` per dimension."""
  uniform = tf.random.stateless_uniform([2], seed)
  slack = tf.cast(slack, tf.float32)
  return tf.cast(tf.minimum(tf.floor(uniform * (slack + 1.0)), slack),
                 tf.int32)

