"""Scene feature maps as a relation module sees them: chosen, rescaled, combined.

A relation module relates each actor to the cells of one or more temporally
flattened S3D-G maps (table 1c: Conv2d_2c_3x3, Mixed_3c, Mixed_4f at scale
0.5 or 1.0). `gather_scene_maps` takes them from the feature extractor's
dict, multiplies the gradient flowing back into each (paper 4.1: 0.01),
resizes each by its scale, then all to a common size: the largest scaled map
(or a size the caller fixes, e.g. the ROI crop for Resize+Concat). Shrinking
averages every cell a smaller cell covers; growing is bilinear.
`location_grid` gives each cell's location l(j, k) = (j / H, k / W).
"""

import dataclasses
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import tensorflow as tf

from acrn_tf.relation import gradient_multiplier as gradient_multiplier_lib

# What the relation module relates to when the config names no scene map:
# F itself.
DEFAULT_SCENE_ENDPOINT = 'Mixed_4f'

Size = Tuple[Union[int, tf.Tensor], Union[int, tf.Tensor]]


@dataclasses.dataclass(frozen=True)
class SceneFeature:
  """One scene map: an S3D-G endpoint (temporally flattened) and its scale.

  Attributes:
    endpoint: the endpoint name, a key of the extractor's scene maps dict.
    scale: the flattened map is resized by this factor (> 0).
  """
  endpoint: str = DEFAULT_SCENE_ENDPOINT
  scale: float = 1.0

  def __post_init__(self):
    if not self.endpoint:
      raise ValueError('SceneFeature.endpoint must name an S3D-G endpoint.')
    if not self.scale > 0:
      raise ValueError(f'SceneFeature.scale of {self.endpoint} must be > 0, '
                       f'got {self.scale}.')


def as_scene_features(
    scene_features: Sequence[Union[SceneFeature, Tuple[str, float], Mapping]]
) -> Tuple[SceneFeature, ...]:
  """Normalises a list of SceneFeature / (endpoint, scale) / dicts.

  Raises:
    ValueError: the list is empty or an entry is malformed.
  """
  result = []
  for item in scene_features:
    if isinstance(item, SceneFeature):
      result.append(item)
    elif isinstance(item, Mapping) or hasattr(item, 'keys'):
      # Keras wraps config dicts in (non-Mapping) trackable wrappers.
      result.append(SceneFeature(**dict(item)))
    else:
      endpoint, scale = item
      result.append(SceneFeature(str(endpoint), float(scale)))
  if not result:
    raise ValueError('A relation module needs at least one scene feature map.')
  return tuple(result)


def _height_width(tensor: tf.Tensor) -> Size:
  """Static height and width of [batch, h, w, c] where known, else dynamic."""
  dynamic = tf.shape(tensor)
  static = tensor.shape
  return (static[1] if static[1] is not None else dynamic[1],
          static[2] if static[2] is not None else dynamic[2])


def _scaled(size: Union[int, tf.Tensor], scale: float):
  """round(size * scale), at least 1 (an int when `size` is static)."""
  if isinstance(size, int):
    return max(1, int(round(size * scale)))
  scaled = tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32)
  return tf.maximum(scaled, 1)


def _maximum(a, b):
  if isinstance(a, int) and isinstance(b, int):
    return max(a, b)
  return tf.maximum(a, b)


def _axis_weights(in_size: Union[int, tf.Tensor],
                  out_size: Union[int, tf.Tensor]) -> tf.Tensor:
  """float32 [out, in]: each output cell's weights over one axis's inputs.

  Shrinking (out < in), an output cell averages the input cells it covers,
  each weighted by its overlap with [i in / out, (i + 1) in / out): every
  input cell counts, as in area resampling. Growing (out >= in), the
  weights are those of a half-pixel-centred bilinear resize (as
  `tf.image.resize`'s), clamped at the edges.
  """
  in_f = tf.cast(in_size, tf.float32)
  out_f = tf.cast(out_size, tf.float32)
  step = in_f / out_f
  starts = tf.range(out_f) * step
  cells = tf.range(in_f)
  overlap = tf.maximum(
      tf.minimum(starts[:, None] + step, cells[None, :] + 1.0) -
      tf.maximum(starts[:, None], cells[None, :]), 0.0)
  area = overlap / step
  source = tf.clip_by_value((tf.range(out_f) + 0.5) * step - 0.5, 0.0,
                            in_f - 1.0)
  lower = tf.floor(source)
  upper = tf.minimum(lower + 1.0, in_f - 1.0)
  fraction = (source - lower)[:, None]
  bilinear = ((1.0 - fraction) * tf.cast(
      tf.equal(cells[None, :], lower[:, None]), tf.float32) +
              fraction * tf.cast(tf.equal(cells[None, :], upper[:, None]),
                                 tf.float32))
  return tf.where(out_f < in_f, area, bilinear)


def _resize(tensor: tf.Tensor, size: Size) -> tf.Tensor:
  """Resizes [batch, h, w, c] to `size`; no-op if already there.

  Each axis separately: an area average where it shrinks, bilinear where it
  grows (`_axis_weights`). Written here because `tf.image.resize` has no
  fit: its bilinear resize without antialiasing reads only the two input
  cells nearest each output cell, so at scale 0.25 it drops three columns
  of every four (a partner standing there vanishes from the map); with
  antialiasing it does not compile with XLA, and its area method has no
  gradient. Two matrix products compile and differentiate.
  """
  current = _height_width(tensor)
  if all(isinstance(v, int) for v in tuple(current) + tuple(size)) and (
      tuple(current) == tuple(size)):
    return tensor
  rows = tf.cast(_axis_weights(current[0], size[0]), tensor.dtype)
  columns = tf.cast(_axis_weights(current[1], size[1]), tensor.dtype)
  return tf.einsum('bhwc,Hh,Ww->bHWc', tensor, rows, columns)


def gather_scene_maps(scene_maps: Mapping[str, tf.Tensor],
                      scene_features: Sequence[SceneFeature],
                      gradient_multiplier: float,
                      output_size: Optional[Size] = None) -> List[tf.Tensor]:
  """The configured scene maps, gradient-scaled and resized to one size.

  Args:
    scene_maps: dict endpoint -> float32 [batch, h_e, w_e, c_e] temporally
      flattened maps (`PredictionFields.scene_feature_maps`).
    scene_features: which maps, at which scale.
    gradient_multiplier: gradients flowing back into each map are multiplied
      by this (paper 4.1: 0.01).
    output_size: (height, width) every map is finally resized to. None: the
      largest of the scaled maps' sizes (their element-wise maximum).

  Returns:
    List, in `scene_features` order, of float32 [batch, H, W, c_e].

  Raises:
    ValueError: a configured endpoint is missing from `scene_maps`, or a map
      is not [batch, h, w, c].
  """
  scaled_maps = []
  for feature in scene_features:
    if feature.endpoint not in scene_maps:
      raise ValueError(
          f'scene_feature_maps has no {feature.endpoint!r} (it has '
          f'{", ".join(sorted(scene_maps)) or "nothing"}); the feature '
          'extractor must be built with this endpoint in scene_endpoints.')
    tensor = scene_maps[feature.endpoint]
    if tensor.shape.rank != 4:
      raise ValueError(f'scene_feature_maps[{feature.endpoint!r}] must be '
                       f'[batch, h, w, c], got shape {tensor.shape}.')
    tensor = gradient_multiplier_lib.multiply_gradient(tensor,
                                                       gradient_multiplier)
    height, width = _height_width(tensor)
    if feature.scale != 1.0:
      tensor = _resize(tensor, (_scaled(height, feature.scale),
                                _scaled(width, feature.scale)))
    scaled_maps.append(tensor)
  if output_size is None:
    output_size = _height_width(scaled_maps[0])
    for tensor in scaled_maps[1:]:
      height, width = _height_width(tensor)
      output_size = (_maximum(output_size[0], height),
                     _maximum(output_size[1], width))
  return [_resize(tensor, output_size) for tensor in scaled_maps]


def location_grid(height: Union[int, tf.Tensor],
                  width: Union[int, tf.Tensor]) -> tf.Tensor:
  """Each cell's location l(j, k) = (j / H, k / W) (paper eq. 2).

  Args:
    height: H, rows of the map.
    width: W, columns of the map.

  Returns:
    float32 [H, W, 2]: [..., 0] = j / H for row j, [..., 1] = k / W for
    column k.
  """
  rows = tf.cast(tf.range(height), tf.float32) / tf.cast(height, tf.float32)
  cols = tf.cast(tf.range(width), tf.float32) / tf.cast(width, tf.float32)
  grid_rows, grid_cols = tf.meshgrid(rows, cols, indexing='ij')
  return tf.stack([grid_rows, grid_cols], axis=-1)


def height_width(tensor: tf.Tensor) -> Size:
  """(height, width) of [batch, h, w, c]: Python ints where static."""
  return _height_width(tensor)
