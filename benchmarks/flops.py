"""Floating-point operation counts: by hand from layer shapes, and by TF.

Counts are of multiply-adds, two FLOPs each, over every output element of
a convolution or matrix product with SAME padding counted in full (as
TensorFlow's own `flops` statistics do). Batch norm, ReLU, pooling, gating
products and other element-wise work are left out: they are a few percent
of a convolutional network.

Two independent counts:
  * `s3dg_flops` walks an S3D-G's blocks and computes every convolution's
    cost from its kernel size, strides, widths and the endpoints' output
    sizes (`s3dg.endpoint_output_shape`): no graph is built.
  * `graph_float_ops` asks TensorFlow's profiler
    (`tf.compat.v1.profiler`, `float_operation` options) to add up the
    registered `flops` statistics of every op in a traced function's
    graph. It does not know `Einsum`, so it undercounts models that use it.
"""

import collections
import math
from typing import Dict, Mapping, Sequence, Tuple

import tensorflow as tf

from acrn_tf.models import s3dg
from acrn_tf.models import s3dg_layers

# Op types whose profiler FLOPs are matrix products / convolutions.
CONV_AND_MATMUL_OPS = ('Conv2D', 'Conv3D', 'DepthwiseConv2dNative', 'MatMul',
                       'BatchMatMul', 'BatchMatMulV2', 'BatchMatMulV3')


def conv_flops(output_shape: Sequence[int],
               kernel_shape: Sequence[int]) -> int:
  """FLOPs of one convolution (or matrix product): 2 MACs per output x tap.

  Args:
    output_shape: the output tensor's shape, [batch, ..., c_out].
    kernel_shape: [k_1, ..., k_n, c_in, c_out] (a dense layer: [c_in,
      c_out]).

  Returns:
    2 * prod(output_shape) * prod(kernel_shape[:-1]).

  Raises:
    ValueError: the output and kernel channels differ, or a size is < 1.
  """
  output_shape = [int(d) for d in output_shape]
  kernel_shape = [int(d) for d in kernel_shape]
  if not output_shape or len(kernel_shape) < 2:
    raise ValueError(f'conv_flops: need an output shape and a kernel of rank '
                     f'>= 2, got {output_shape} and {kernel_shape}')
  if min(output_shape + kernel_shape) < 1:
    raise ValueError(f'conv_flops: sizes must be >= 1, got output '
                     f'{output_shape}, kernel {kernel_shape}')
  if output_shape[-1] != kernel_shape[-1]:
    raise ValueError(f'conv_flops: output channels {output_shape[-1]} differ '
                     f'from the kernel\'s {kernel_shape[-1]}')
  return 2 * math.prod(output_shape) * math.prod(kernel_shape[:-1])


def _ceil_div(a: int, b: int) -> int:
  return -(-a // b)


def conv_unit_flops(unit: s3dg_layers.ConvUnit3D, input_shape: Sequence[int],
                    batch_size: int = 1) -> Tuple[int, Tuple[int, ...]]:
  """FLOPs of an S3D-G conv unit and its output shape, from its config.

  Args:
    unit: the `ConvUnit3D` (built or not).
    input_shape: [t, h, w, c_in] of one example.
    batch_size: examples.

  Returns:
    (flops, output shape [t', h', w', filters]). A split unit counts its
    [1, k, k] and [k_t, 1, 1] convolutions; a gated one its gate's
    [c, c] product.
  """
  config = unit.get_config()
  filters = int(config['filters'])
  s_t, s_h, s_w = (int(s) for s in config['strides'])
  t, h, w, c_in = (int(d) for d in input_shape)
  out_h, out_w = _ceil_div(h, s_h), _ceil_div(w, s_w)
  kernels = unit.conv_kernel_sizes
  total = 0
  if unit.is_split:
    (_, k_h, k_w), (k_t, _, _) = kernels
    total += conv_flops([batch_size, t, out_h, out_w, filters],
                        [1, k_h, k_w, c_in, filters])
    out_t = _ceil_div(t, s_t)
    total += conv_flops([batch_size, out_t, out_h, out_w, filters],
                        [k_t, 1, 1, filters, filters])
  else:
    out_t = _ceil_div(t, s_t)
    total += conv_flops([batch_size, out_t, out_h, out_w, filters],
                        list(kernels[0]) + [c_in, filters])
  if unit.uses_gating:
    total += conv_flops([batch_size, 1, 1, 1, filters],
                        [1, 1, 1, filters, filters])
  return total, (out_t, out_h, out_w, filters)


# Which unit's output feeds each unit of an Inception block (None: the
# block's input; Branch_3's 1x1 reads the max pool, which keeps the shape).
_INCEPTION_INPUTS = collections.OrderedDict([
    ('Branch_0/Conv2d_0a_1x1', None),
    ('Branch_1/Conv2d_0a_1x1', None),
    ('Branch_1/Conv2d_0b_3x3', 'Branch_1/Conv2d_0a_1x1'),
    ('Branch_2/Conv2d_0a_1x1', None),
    ('Branch_2/Conv2d_0b_3x3', 'Branch_2/Conv2d_0a_1x1'),
    ('Branch_3/Conv2d_0b_1x1', None),
])


def inception_block_flops(block: s3dg_layers.InceptionBlock3D,
                          input_shape: Sequence[int],
                          batch_size: int = 1) -> int:
  """FLOPs of an S3D-G Inception block for a [t, h, w, c_in] input."""
  units = block.units
  outputs = {}
  total = 0
  for scope, source in _INCEPTION_INPUTS.items():
    shape = input_shape if source is None else outputs[source]
    flops, outputs[scope] = conv_unit_flops(units[scope], shape, batch_size)
    total += flops
  return total


def s3dg_flops(model: s3dg.S3DG, num_frames: int, height: int, width: int,
               batch_size: int = 1) -> 'collections.OrderedDict[str, int]':
  """FLOPs of each endpoint of an S3D-G for a [num_frames, height, width] clip.

  Computed from the blocks' configs and `s3dg.endpoint_output_shape`, with
  no graph built (an independent check of `graph_float_ops`).

  Args:
    model: the `s3dg.S3DG` (built or not).
    num_frames, height, width: the input clip's size.
    batch_size: clips.

  Returns:
    OrderedDict endpoint -> FLOPs of its block (max pools: 0), in order.
  """
  config = model.get_config()
  depth_multiplier = config['depth_multiplier']
  min_depth = config['min_depth']
  shape = (num_frames, height, width, model.input_channels)
  counts = collections.OrderedDict()
  for name in model.endpoint_names:
    block = model.block(name)
    if isinstance(block, s3dg_layers.InceptionBlock3D):
      counts[name] = inception_block_flops(block, shape, batch_size)
    elif isinstance(block, s3dg_layers.ConvUnit3D):
      counts[name] = conv_unit_flops(block, shape, batch_size)[0]
    else:
      counts[name] = 0
    shape = s3dg.endpoint_output_shape(name, num_frames, height, width,
                                       depth_multiplier, min_depth)
  return counts


def graph_float_ops(concrete_function) -> Dict[str, int]:
  """TensorFlow profiler FLOPs of a traced function's graph, by op type.

  Args:
    concrete_function: a `tf.function`'s concrete function traced with
      fully static input shapes.

  Returns:
    dict op type (e.g. 'Conv2D', 'MaxPool') -> FLOPs; only op types with a
    registered `flops` statistic and a nonzero count appear.
  """
  graph = concrete_function.graph
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options['output'] = 'none'
  profile = tf.compat.v1.profiler.profile(graph=graph, cmd='scope',
                                          options=options)
  # The scope view holds each op once, with its own count in float_ops.
  own_counts = {}
  pending = [profile]
  while pending:
    node = pending.pop()
    if node.float_ops:
      own_counts[node.name] = int(node.float_ops)
    pending.extend(node.children)
  by_type = collections.defaultdict(int)
  for name, count in own_counts.items():
    try:
      op_type = graph.get_operation_by_name(name).type
    except (KeyError, ValueError):
      op_type = 'unknown'
    by_type[op_type] += count
  return dict(by_type)


def conv_and_matmul_flops(by_op_type: Mapping[str, int]) -> int:
  """The part of a `graph_float_ops` count in convolutions and matmuls."""
  return sum(v for k, v in by_op_type.items() if k in CONV_AND_MATMUL_OPS)


def g_theta_flops(num_actors: int, height: int, width: int,
                  actor_channels: int, scene_channels: int, filters: int,
                  decompose: bool, batch_size: int = 1) -> int:
  """FLOPs of the g_theta 1 x 1 stage (`g_theta.PairwiseRelationConv`).

  Args:
    num_actors: actors per image.
    height, width: the scene map's size.
    actor_channels: d_a of the actor feature.
    scene_channels: c of the scene map.
    filters: g_theta's output channels.
    decompose: True: the scene part once per image, the actor and box part
      once per actor, the location part once, plus the per-actor
      scale-and-add over the map (3 FLOPs per output: multiply, two adds);
      False: the 1 x 1 convolution over the actor-tiled concatenation.
    batch_size: images.

  Returns:
    FLOPs (2 per multiply-add; bias and activation not counted).
  """
  box_channels, location_channels = 4, 2
  outputs = batch_size * num_actors * height * width * filters
  if not decompose:
    inputs = actor_channels + box_channels + scene_channels + location_channels
    return 2 * outputs * inputs
  scene = 2 * batch_size * height * width * scene_channels * filters
  actor = (2 * batch_size * num_actors * (actor_channels + box_channels) *
           filters)
  location = 2 * height * width * location_channels * filters
  return scene + actor + location + 3 * outputs
