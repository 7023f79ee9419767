"""flops: hand counts against hand computations and TensorFlow's profiler."""

import pytest
import tensorflow as tf

from acrn_tf.models import s3dg
from acrn_tf.models import s3dg_layers
from benchmarks import flops


def test_conv_flops_by_hand():
  # 3x3 conv, 56x56 output, 256 -> 128 channels, batch 2:
  # 2 * (2 * 56 * 56 * 128) outputs * (3 * 3 * 256) taps.
  assert flops.conv_flops([2, 56, 56, 128], [3, 3, 256, 128]) == (
      2 * 2 * 56 * 56 * 128 * 3 * 3 * 256)
  # A dense layer: [batch, c_out] and [c_in, c_out].
  assert flops.conv_flops([4, 10], [20, 10]) == 2 * 4 * 10 * 20


def test_conv_flops_matches_the_profiler_on_one_conv3d():
  fn = tf.function(lambda x, k: tf.nn.conv3d(x, k, [1] * 5, 'SAME'))
  traced = fn.get_concrete_function(tf.TensorSpec([1, 4, 6, 5, 3]),
                                    tf.TensorSpec([3, 3, 3, 3, 8]))
  counted = flops.graph_float_ops(traced)
  # 4*6*5 outputs x 8 channels x 27 taps x 3 inputs x 2 = 155520.
  assert flops.conv_flops([1, 4, 6, 5, 8], [3, 3, 3, 3, 8]) == 155520
  assert counted == {'Conv3D': 155520}


def test_conv_flops_bad_shapes():
  with pytest.raises(ValueError, match='output channels 4 differ'):
    flops.conv_flops([1, 2, 2, 4], [3, 3, 1, 5])
  with pytest.raises(ValueError, match='sizes must be >= 1'):
    flops.conv_flops([1, 0, 2, 4], [3, 3, 1, 4])


def test_split_gated_unit_by_hand():
  unit = s3dg_layers.ConvUnit3D(6, (3, 3, 3), strides=(2, 2, 2),
                                separable=True, use_gating=True)
  count, shape = flops.conv_unit_flops(unit, (5, 7, 9, 4))
  # Spatial [1, 3, 3] stride (1, 2, 2): 5 x 4 x 5 outputs x 6 ch, 36 taps.
  spatial = 2 * 5 * 4 * 5 * 6 * 3 * 3 * 4
  # Temporal [3, 1, 1] stride 2: 3 x 4 x 5 outputs x 6 ch, 3 * 6 taps.
  temporal = 2 * 3 * 4 * 5 * 6 * 3 * 6
  gate = 2 * 6 * 6
  assert shape == (3, 4, 5, 6)
  assert count == spatial + temporal + gate


def test_s3dg_hand_count_equals_the_profilers():
  # Top-heavy has both kinds of unit: 2D [1, k, k] up to Mixed_4b, split
  # [1, 3, 3] + [3, 1, 1] with gating after.
  model = s3dg.S3DG(depth_multiplier=0.125, min_depth=4,
                    **s3dg.S3DG_PRESETS['top_heavy'])
  fn = tf.function(lambda x: model(x, training=False)['Mixed_5c'])
  traced = fn.get_concrete_function(tf.TensorSpec([1, 4, 24, 40, 3]))
  by_endpoint = flops.s3dg_flops(model, 4, 24, 40)
  assert list(by_endpoint) == list(s3dg.ENDPOINTS)
  assert by_endpoint['MaxPool_2a_3x3'] == 0
  # First conv by hand: [3, 7, 7] stride 2 -> 2 x 12 x 20 x 8 outputs.
  assert by_endpoint['Conv2d_1a_7x7'] == 2 * (2 * 12 * 20 * 8) * (
      3 * 7 * 7 * 3)
  profiled = flops.conv_and_matmul_flops(flops.graph_float_ops(traced))
  assert sum(by_endpoint.values()) == profiled


def test_s3dg_paper_size_count():
  model = s3dg.S3DG(**s3dg.S3DG_PRESETS['top_heavy'])
  total = sum(flops.s3dg_flops(model, 16, 224, 224).values())
  # Mixed_5c on a 2x7x7x832 input: its 1x1 branch alone is
  # 2 * 98 * 384 * 832 FLOPs; the network is tens of GFLOPs.
  assert 20e9 < total < 30e9
  assert flops.s3dg_flops(model, 16, 224, 224)['Mixed_5c'] > (
      2 * 98 * 384 * 832)


def test_g_theta_counts_by_hand():
  # 2 actors, 3x4 map, d_a = 5, c = 6, 7 outputs.
  naive = flops.g_theta_flops(2, 3, 4, 5, 6, 7, decompose=False)
  assert naive == 2 * (2 * 3 * 4 * 7) * (5 + 4 + 6 + 2)
  decomposed = flops.g_theta_flops(2, 3, 4, 5, 6, 7, decompose=True)
  assert decomposed == (2 * 3 * 4 * 6 * 7 + 2 * 2 * (5 + 4) * 7 +
                        2 * 3 * 4 * 2 * 7 + 3 * 2 * 3 * 4 * 7)
