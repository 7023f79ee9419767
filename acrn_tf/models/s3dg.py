"""S3D-G, the gated separable 3D video network (Xie et al., ECCV 2018).

Endpoint by endpoint as TF-slim's `nets/s3dg.py` defines it, so its
Kinetics-pretrained checkpoints load (`slim_s3dg_checkpoint`). Inputs are
`[batch, time, height, width, channels]`; every conv and pool is SAME padded,
so an endpoint of stride (s_t, s) has ceil(T / s_t) frames and ceil(H / s) x
ceil(W / s) pixels.

Two settings matter (`S3DG_PRESETS`):
  * 'original': separable 3D convs and gating from Conv2d_2c_3x3 on (the
    S3D-G paper);
  * 'top_heavy': 2D ([1, k, k]) convs without gating up to Mixed_4b, then
    separable 3D convs with gating (the ACRN paper, 3.1).
"""

import collections
import math
from typing import Any, Dict, Mapping, Optional, Sequence

import tensorflow as tf
import tf_keras

from acrn_tf.models import conv3d_ops
from acrn_tf.models import s3dg_layers

# Endpoints in network order.
ENDPOINTS = (
    'Conv2d_1a_7x7', 'MaxPool_2a_3x3', 'Conv2d_2b_1x1', 'Conv2d_2c_3x3',
    'MaxPool_3a_3x3', 'Mixed_3b', 'Mixed_3c', 'MaxPool_4a_3x3', 'Mixed_4b',
    'Mixed_4c', 'Mixed_4d', 'Mixed_4e', 'Mixed_4f', 'MaxPool_5a_2x2',
    'Mixed_5b', 'Mixed_5c')

# Endpoints where separable temporal convs / gating may start (slim checks
# these only).
STARTAT_ENDPOINTS = (
    'Conv2d_2c_3x3', 'Mixed_3b', 'Mixed_3c', 'Mixed_4b', 'Mixed_4c',
    'Mixed_4d', 'Mixed_4e', 'Mixed_4f', 'Mixed_5b', 'Mixed_5c')

HEAD_ENDPOINTS = ('Mixed_5b', 'Mixed_5c')

S3DG_PRESETS = {
    'original': {'temporal_conv_startat': 'Conv2d_2c_3x3',
                 'gating_startat': 'Conv2d_2c_3x3'},
    'top_heavy': {'temporal_conv_startat': 'Mixed_4b',
                  'gating_startat': 'Mixed_4b'},
}

# name -> (kind, arguments). 'conv': (filters, [t, h, w] kernel or None for
# the first conv's configurable time size, strides); 'pool': (window,
# strides); 'mixed': the six branch widths of `s3dg_layers.BranchFilters`.
_BLOCKS = collections.OrderedDict([
    ('Conv2d_1a_7x7', ('conv', (64, None, (2, 2, 2)))),
    ('MaxPool_2a_3x3', ('pool', ((1, 3, 3), (1, 2, 2)))),
    ('Conv2d_2b_1x1', ('conv', (64, (1, 1, 1), (1, 1, 1)))),
    ('Conv2d_2c_3x3', ('conv', (192, (3, 3, 3), (1, 1, 1)))),
    ('MaxPool_3a_3x3', ('pool', ((1, 3, 3), (1, 2, 2)))),
    ('Mixed_3b', ('mixed', (64, 96, 128, 16, 32, 32))),
    ('Mixed_3c', ('mixed', (128, 128, 192, 32, 96, 64))),
    ('MaxPool_4a_3x3', ('pool', ((3, 3, 3), (2, 2, 2)))),
    ('Mixed_4b', ('mixed', (192, 96, 208, 16, 48, 64))),
    ('Mixed_4c', ('mixed', (160, 112, 224, 24, 64, 64))),
    ('Mixed_4d', ('mixed', (128, 128, 256, 24, 64, 64))),
    ('Mixed_4e', ('mixed', (112, 144, 288, 32, 64, 64))),
    ('Mixed_4f', ('mixed', (256, 160, 320, 32, 128, 128))),
    ('MaxPool_5a_2x2', ('pool', ((2, 2, 2), (2, 2, 2)))),
    ('Mixed_5b', ('mixed', (256, 160, 320, 32, 128, 128))),
    ('Mixed_5c', ('mixed', (384, 192, 384, 48, 128, 128))),
])

EndpointSpec = collections.namedtuple(
    'EndpointSpec', ['channels', 'temporal_stride', 'spatial_stride'])


def _depth_fn(depth_multiplier: float, min_depth: int):
  if depth_multiplier <= 0:
    raise ValueError(f'depth_multiplier must be > 0, got {depth_multiplier}.')
  if min_depth < 1:
    raise ValueError(f'min_depth must be >= 1, got {min_depth}.')
  return lambda d: max(int(d * depth_multiplier), min_depth)


def endpoint_index(endpoint: str, field: str = 'endpoint') -> int:
  """Index of `endpoint` in `ENDPOINTS`; ValueError naming `field` if not."""
  if endpoint not in ENDPOINTS:
    raise ValueError(f'{field}: unknown S3D-G endpoint {endpoint!r}; expected '
                     f'one of {", ".join(ENDPOINTS)}.')
  return ENDPOINTS.index(endpoint)


def endpoint_specs(
    depth_multiplier: float = 1.0,
    min_depth: int = 16) -> 'collections.OrderedDict[str, EndpointSpec]':
  """Channels and strides of every endpoint, without building anything.

  Args:
    depth_multiplier: channel multiplier, > 0.
    min_depth: fewest channels of a conv; depth(d) = max(int(d * m), min_depth).

  Returns:
    OrderedDict endpoint name -> EndpointSpec(channels, temporal_stride,
    spatial_stride), in network order.
  """
  depth = _depth_fn(depth_multiplier, min_depth)
  specs = collections.OrderedDict()
  channels, t_stride, s_stride = None, 1, 1
  for name, (kind, args) in _BLOCKS.items():
    if kind == 'conv':
      channels = depth(args[0])
      t_stride *= args[2][0]
      s_stride *= args[2][1]
    elif kind == 'pool':
      t_stride *= args[1][0]
      s_stride *= args[1][1]
    else:
      widths = s3dg_layers.BranchFilters(*[depth(w) for w in args])
      channels = widths.b0_0a + widths.b1_0b + widths.b2_0b + widths.b3_0b
    specs[name] = EndpointSpec(channels, t_stride, s_stride)
  return specs


def endpoint_output_shape(endpoint: str, num_frames: int, height: int,
                          width: int, depth_multiplier: float = 1.0,
                          min_depth: int = 16) -> tuple:
  """Shape [t, h, w, c] of `endpoint` for [num_frames, height, width] input."""
  spec = endpoint_specs(depth_multiplier, min_depth)[
      ENDPOINTS[endpoint_index(endpoint)]]
  return (math.ceil(num_frames / spec.temporal_stride),
          math.ceil(height / spec.spatial_stride),
          math.ceil(width / spec.spatial_stride), spec.channels)


def _starts(startat: Optional[str], endpoint: str) -> bool:
  """True if `endpoint` is at or after `startat` (None = never)."""
  return startat is not None and (
      ENDPOINTS.index(endpoint) >= ENDPOINTS.index(startat))


def _check_startat(value: Optional[str], field: str):
  if value is not None and value not in STARTAT_ENDPOINTS:
    raise ValueError(f'{field}: {value!r} is not a block that can start it; '
                     f'expected None or one of {", ".join(STARTAT_ENDPOINTS)}.')


def _make_block(name: str, depth, temporal_conv_startat: Optional[str],
                gating_startat: Optional[str], first_temporal_kernel_size: int,
                unit_kwargs: Mapping[str, Any]) -> tf_keras.layers.Layer:
  """Builds endpoint `name`'s Keras layer, named as slim's scope."""
  kind, args = _BLOCKS[name]
  temporal = 3 if _starts(temporal_conv_startat, name) else 1
  gating = _starts(gating_startat, name)
  if kind == 'pool':
    return conv3d_ops.MaxPool3D(args[0], strides=args[1], padding='same',
                                name=name)
  if kind == 'mixed':
    return s3dg_layers.InceptionBlock3D(
        [depth(w) for w in args], temporal_kernel_size=temporal,
        use_gating=gating, name=name, **unit_kwargs)
  filters, kernel, strides = args
  if kernel is None:  # Conv2d_1a_7x7: full 3D conv, never separable (slim).
    return s3dg_layers.ConvUnit3D(
        depth(filters), (first_temporal_kernel_size, 7, 7), strides,
        separable=False, use_gating=False, name=name, **unit_kwargs)
  if kernel[1] == 3:  # Conv2d_2c_3x3 follows the temporal/gating switches.
    kernel = (temporal, 3, 3)
  else:
    gating = False
  return s3dg_layers.ConvUnit3D(depth(filters), kernel, strides,
                                separable=True, use_gating=gating, name=name,
                                **unit_kwargs)


class _SlimScopedMixin:
  """`slim_variables()` for a layer keeping its blocks in `_endpoint_blocks`."""

  def slim_variables(self) -> Dict[str, tf.Variable]:
    """Slim name below the network scope ('Mixed_4b/Branch_0/...') -> variable.

    Raises:
      ValueError: the layer is not built yet.
    """
    names = {}
    for endpoint, block in self._endpoint_blocks.items():
      if isinstance(block, tf_keras.layers.MaxPool3D):
        continue
      for name, variable in block.slim_variables().items():
        names[f'{endpoint}/{name}'] = variable
    return names

  def block(self, endpoint: str) -> tf_keras.layers.Layer:
    """The Keras layer of `endpoint`."""
    if endpoint not in self._endpoint_blocks:
      raise ValueError(f'{self.name} has no block {endpoint!r}; it has '
                       f'{", ".join(self._endpoint_blocks)}.')
    return self._endpoint_blocks[endpoint]


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class S3DG(_SlimScopedMixin, tf_keras.Model):
  """S3D-G up to `final_endpoint`, returning every endpoint."""

  def __init__(self,
               first_temporal_kernel_size: int = 3,
               temporal_conv_startat: Optional[str] = 'Conv2d_2c_3x3',
               gating_startat: Optional[str] = 'Conv2d_2c_3x3',
               depth_multiplier: float = 1.0,
               min_depth: int = 16,
               final_endpoint: str = 'Mixed_5c',
               batch_norm_decay: float = 0.999,
               batch_norm_epsilon: float = 0.001,
               weight_decay: float = 1e-7,
               use_frozen_batch_norm: bool = False,
               input_channels: int = 3,
               **kwargs):
    """Initialises the network.

    Args:
      first_temporal_kernel_size: time size of Conv2d_1a_7x7: 1, 3, 5 or 7.
      temporal_conv_startat: first block with separable [3, 1, 1] temporal
        convs (earlier ones are [1, k, k]); None = none. See `S3DG_PRESETS`.
      gating_startat: first block with self-gating; None = none.
      depth_multiplier: channel multiplier, > 0.
      min_depth: depth(d) = max(int(d * depth_multiplier), min_depth).
      final_endpoint: last endpoint built.
      batch_norm_decay: momentum of the batch-norm moving statistics.
      batch_norm_epsilon: batch-norm variance epsilon.
      weight_decay: slim L2 weight decay of every kernel (the loss gets
        weight_decay * sum(w ** 2) / 2, as `slim.l2_regularizer`).
      use_frozen_batch_norm: batch norm always uses its moving statistics and
        never updates them, even when training (paper 4.1).
      input_channels: 3 for RGB, 2 for optical flow.
      **kwargs: keyword arguments of `tf_keras.Model` (e.g. name).

    Raises:
      ValueError: an argument is out of range or names an unknown endpoint.
    """
    kwargs.setdefault('name', 's3dg')
    super().__init__(**kwargs)
    if first_temporal_kernel_size not in (1, 3, 5, 7):
      raise ValueError('first_temporal_kernel_size must be 1, 3, 5 or 7, got '
                       f'{first_temporal_kernel_size}.')
    _check_startat(temporal_conv_startat, 'temporal_conv_startat')
    _check_startat(gating_startat, 'gating_startat')
    last = endpoint_index(final_endpoint, 'final_endpoint')
    if input_channels < 1:
      raise ValueError(f'input_channels must be >= 1, got {input_channels}.')
    depth = _depth_fn(depth_multiplier, min_depth)
    self._config_dict = {
        'first_temporal_kernel_size': first_temporal_kernel_size,
        'temporal_conv_startat': temporal_conv_startat,
        'gating_startat': gating_startat,
        'depth_multiplier': depth_multiplier, 'min_depth': min_depth,
        'final_endpoint': final_endpoint,
        'batch_norm_decay': batch_norm_decay,
        'batch_norm_epsilon': batch_norm_epsilon,
        'weight_decay': weight_decay,
        'use_frozen_batch_norm': use_frozen_batch_norm,
        'input_channels': input_channels,
    }
    unit_kwargs = dict(weight_decay=weight_decay,
                       batch_norm_decay=batch_norm_decay,
                       batch_norm_epsilon=batch_norm_epsilon,
                       use_frozen_batch_norm=use_frozen_batch_norm)
    self._endpoint_blocks = {
        name: _make_block(name, depth, temporal_conv_startat, gating_startat,
                          first_temporal_kernel_size, unit_kwargs)
        for name in ENDPOINTS[:last + 1]}
    self._endpoint_names = ENDPOINTS[:last + 1]

  @property
  def endpoint_names(self) -> Sequence[str]:
    """Endpoints this network builds, in order."""
    return self._endpoint_names

  @property
  def input_channels(self) -> int:
    return self._config_dict['input_channels']

  def call(self, inputs: tf.Tensor, training=None,
           start_endpoint: Optional[str] = None,
           end_endpoint: Optional[str] = None
           ) -> 'collections.OrderedDict[str, tf.Tensor]':
    """Runs the blocks from `start_endpoint` to `end_endpoint`.

    Args:
      inputs: float32 [batch, time, height, width, input_channels] video
        (preprocessed to [-1, 1]), or, with `start_endpoint`, the output of
        the endpoint before it.
      training: training mode of batch norm (ignored when frozen).
      start_endpoint: first block to run (default: the first).
      end_endpoint: last block to run (default: `final_endpoint`).

    Returns:
      OrderedDict endpoint name -> [batch, t, h, w, c] of every block run.

    Raises:
      ValueError: bad endpoints or input shape.
    """
    names = self._endpoint_names
    first = 0 if start_endpoint is None else endpoint_index(
        start_endpoint, 'start_endpoint')
    last = len(names) - 1 if end_endpoint is None else endpoint_index(
        end_endpoint, 'end_endpoint')
    if last >= len(names) or first > last:
      raise ValueError(
          f'{self.name}: cannot run {names[min(first, len(names) - 1)]} .. '
          f'{ENDPOINTS[last]}: the network builds {names[0]} .. {names[-1]}.')
    if inputs.shape.rank != 5:
      raise ValueError(f'{self.name}: inputs must be [batch, time, height, '
                       f'width, channels], got shape {inputs.shape}.')
    if first == 0 and inputs.shape[-1] != self.input_channels:
      raise ValueError(f'{self.name}: expected {self.input_channels} input '
                       f'channels, got shape {inputs.shape}.')
    end_points = collections.OrderedDict()
    net = inputs
    for name in names[first:last + 1]:
      block = self._endpoint_blocks[name]
      if isinstance(block, tf_keras.layers.MaxPool3D):
        net = block(net)
      else:
        net = block(net, training=training)
      end_points[name] = net
    return end_points

  def get_config(self) -> Mapping[str, Any]:
    return {'name': self.name, **self._config_dict}

  @classmethod
  def from_config(cls, config, custom_objects=None):
    del custom_objects
    return cls(**config)


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class S3DGHead(_SlimScopedMixin, tf_keras.layers.Layer):
  """S3D-G's top blocks alone: [MaxPool_5a_2x2,] Mixed_5b, Mixed_5c.

  The action classifier and the relation branch each own one (weights not
  shared); both load Mixed_5b/5c from the same slim checkpoint names.
  """

  def __init__(self,
               include_max_pool: bool = False,
               temporal_conv_startat: Optional[str] = 'Conv2d_2c_3x3',
               gating_startat: Optional[str] = 'Conv2d_2c_3x3',
               depth_multiplier: float = 1.0,
               min_depth: int = 16,
               batch_norm_decay: float = 0.999,
               batch_norm_epsilon: float = 0.001,
               weight_decay: float = 1e-7,
               use_frozen_batch_norm: bool = False,
               **kwargs):
    """Initialises the head; arguments mean what they mean in `S3DG`.

    Args:
      include_max_pool: run MaxPool_5a_2x2 (2x2x2, stride 2) first.
      temporal_conv_startat: as `S3DG`; decides whether Mixed_5b/5c use
        separable temporal convs (they do in both presets).
      gating_startat: as `S3DG`.
      depth_multiplier: as `S3DG`.
      min_depth: as `S3DG`.
      batch_norm_decay: as `S3DG`.
      batch_norm_epsilon: as `S3DG`.
      weight_decay: as `S3DG`.
      use_frozen_batch_norm: as `S3DG`.
      **kwargs: keyword arguments of `tf_keras.layers.Layer`.
    """
    kwargs.setdefault('name', 's3dg_head')
    super().__init__(**kwargs)
    _check_startat(temporal_conv_startat, 'temporal_conv_startat')
    _check_startat(gating_startat, 'gating_startat')
    depth = _depth_fn(depth_multiplier, min_depth)
    self._config_dict = {
        'include_max_pool': include_max_pool,
        'temporal_conv_startat': temporal_conv_startat,
        'gating_startat': gating_startat,
        'depth_multiplier': depth_multiplier, 'min_depth': min_depth,
        'batch_norm_decay': batch_norm_decay,
        'batch_norm_epsilon': batch_norm_epsilon,
        'weight_decay': weight_decay,
        'use_frozen_batch_norm': use_frozen_batch_norm,
    }
    unit_kwargs = dict(weight_decay=weight_decay,
                       batch_norm_decay=batch_norm_decay,
                       batch_norm_epsilon=batch_norm_epsilon,
                       use_frozen_batch_norm=use_frozen_batch_norm)
    names = (('MaxPool_5a_2x2',) if include_max_pool else ()) + HEAD_ENDPOINTS
    self._endpoint_blocks = {
        name: _make_block(name, depth, temporal_conv_startat, gating_startat,
                          3, unit_kwargs) for name in names}
    self._names = names
    self.output_channels = endpoint_specs(depth_multiplier,
                                          min_depth)['Mixed_5c'].channels

  def call(self, inputs: tf.Tensor, training=None) -> tf.Tensor:
    """Runs the head.

    Args:
      inputs: float32 [batch, t, h, w, c] (e.g. ROI crops of F inflated to
        3D, [num_boxes, t, 7, 7, 832]).
      training: batch-norm mode (ignored when frozen).

    Returns:
      float32 [batch, t', h', w', depth(1024)], the Mixed_5c map (t' = ceil(t
      / 2) etc. with the max pool, else t' = t).
    """
    if inputs.shape.rank != 5:
      raise ValueError(f'{self.name}: inputs must be [batch, t, h, w, c], got '
                       f'shape {inputs.shape}.')
    net = inputs
    for name in self._names:
      block = self._endpoint_blocks[name]
      if isinstance(block, tf_keras.layers.MaxPool3D):
        net = block(net)
      else:
        net = block(net, training=training)
    return net

  def get_config(self) -> Mapping[str, Any]:
    return {**super().get_config(), **self._config_dict}
