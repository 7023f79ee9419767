"""The input pixels one S3D-G endpoint unit depends on, found by gradient.

The Base-Model classifies an actor from the feature map cropped to its box;
whether that crop is local depends on how much of the clip one unit of the
map sees. Counting kernel sizes gives the receptive field of the
convolutions and pools alone; self-gating (`s3dg_layers.SelfGating`)
multiplies every channel by a function of the whole clip's average, so
with it a unit depends on every input pixel. Measuring it covers both: the
gradient of the centre unit with respect to the input is nonzero exactly on
the pixels the unit depends on. TensorFlow and Model Garden have no
receptive-field helper for Keras models, hence this module.
"""

import dataclasses
from typing import Any, List, Mapping, Tuple

import numpy as np
import tensorflow as tf
import tf_keras

from acrn_tf.models import s3dg


@dataclasses.dataclass(frozen=True)
class Extent:
  """Where in the input one endpoint unit looks.

  Attributes:
    endpoint: the S3D-G endpoint.
    unit: (t, y, x) of the unit in the endpoint's map (its centre).
    map_shape: the endpoint map's (time, height, width).
    input_shape: the input's (frames, height, width).
    frames, rows, columns: first and last input index (inclusive) of the
      frames, rows and columns holding a pixel the unit depends on.
  """
  endpoint: str
  unit: Tuple[int, int, int]
  map_shape: Tuple[int, int, int]
  input_shape: Tuple[int, int, int]
  frames: Tuple[int, int]
  rows: Tuple[int, int]
  columns: Tuple[int, int]

  @property
  def size(self) -> Tuple[int, int, int]:
    """(frames, height, width) of the box the unit depends on."""
    return tuple(last - first + 1 for first, last in
                 (self.frames, self.rows, self.columns))

  @property
  def whole_input(self) -> bool:
    return self.size == self.input_shape


def measure(network: s3dg.S3DG, endpoint: str, num_frames: int, height: int,
            width: int, num_inputs: int = 2, seed: int = 0) -> Extent:
  """Measures the extent of the centre unit of `endpoint` on random inputs.

  The network runs in inference mode (batch norm with its moving
  statistics). A pixel counts when the unit's gradient with respect to it
  is nonzero for any of `num_inputs` random clips; several clips guard
  against a path that one clip's ReLUs happen to close.

  Args:
    network: the S3D-G, built up to `endpoint` at least.
    endpoint: the endpoint whose unit is measured.
    num_frames, height, width: the input clip's size.
    num_inputs: random clips in [-1, 1] measured together, >= 1.
    seed: seed of the clips.

  Returns:
    The unit's extent.

  Raises:
    ValueError: an endpoint the network does not build, a size < 1, or a
      unit that depends on no pixel at all (every path closed by ReLUs).
  """
  if endpoint not in network.endpoint_names:
    raise ValueError(f'endpoint {endpoint!r}: the network builds '
                     f'{", ".join(network.endpoint_names)}')
  if min(num_frames, height, width, num_inputs) < 1:
    raise ValueError('num_frames, height, width and num_inputs must be >= 1, '
                     f'got {num_frames}, {height}, {width}, {num_inputs}')
  clips = tf.Variable(tf.random.stateless_uniform(
      [num_inputs, num_frames, height, width, network.input_channels],
      seed=[seed, 0], minval=-1.0, maxval=1.0))
  with tf.GradientTape() as tape:
    features = network(clips, training=False,
                       end_endpoint=endpoint)[endpoint]
    map_shape = tuple(int(d) for d in features.shape[1:4])
    unit = tuple(d // 2 for d in map_shape)
    value = tf.reduce_sum(features[:, unit[0], unit[1], unit[2], :])
  gradient = np.abs(tape.gradient(value, clips).numpy()).sum(axis=(0, 4))
  hit = gradient > 0
  if not hit.any():
    raise ValueError(f'{endpoint} unit {unit}: no input pixel changes it '
                     f'(seed {seed}); try another seed or more inputs')

  def span(axes):
    indices = np.flatnonzero(hit.any(axis=axes))
    return int(indices[0]), int(indices[-1])

  return Extent(endpoint=endpoint, unit=unit, map_shape=map_shape,
                input_shape=(num_frames, height, width),
                frames=span((1, 2)), rows=span((0, 2)), columns=span((0, 1)))


def measure_with_and_without_gating(
    s3dg_kwargs: Mapping[str, Any], endpoint: str, num_frames: int,
    height: int, width: int, num_inputs: int = 2, seed: int = 0
) -> List[Tuple[str, Extent]]:
  """`measure` on the S3D-G of s3dg_kwargs, and on it without self-gating.

  Args:
    s3dg_kwargs: `S3DG` keyword arguments (e.g. `model_builder.s3dg_kwargs`
      of a config); final_endpoint is set to `endpoint`.
    endpoint, num_frames, height, width, num_inputs, seed: as for `measure`;
      the weights are drawn with `seed` too.

  Returns:
    [('as configured', extent)], then ('without gating', extent) when the
    network gates.
  """
  kwargs = dict(s3dg_kwargs, final_endpoint=endpoint)
  variants = [('as configured', kwargs)]
  if kwargs.get('gating_startat'):
    variants.append(('without gating', dict(kwargs, gating_startat=None)))
  extents = []
  for name, variant in variants:
    tf_keras.utils.set_random_seed(seed)
    extents.append((name, measure(s3dg.S3DG(**variant), endpoint, num_frames,
                                  height, width, num_inputs, seed)))
  return extents
