"""S3D-G endpoints, shapes, presets and the head."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from acrn_tf.models import s3dg
from acrn_tf.models import s3dg_layers

TINY = dict(depth_multiplier=0.25, min_depth=8)

# Channels at depth multiplier 1 (Inception-v1 widths, S3D-G paper table).
FULL_CHANNELS = {
    'Conv2d_1a_7x7': 64, 'MaxPool_2a_3x3': 64, 'Conv2d_2b_1x1': 64,
    'Conv2d_2c_3x3': 192, 'MaxPool_3a_3x3': 192, 'Mixed_3b': 256,
    'Mixed_3c': 480, 'MaxPool_4a_3x3': 480, 'Mixed_4b': 512, 'Mixed_4c': 512,
    'Mixed_4d': 512, 'Mixed_4e': 528, 'Mixed_4f': 832, 'MaxPool_5a_2x2': 832,
    'Mixed_5b': 832, 'Mixed_5c': 1024}
# (temporal, spatial) strides.
STRIDES = {
    'Conv2d_1a_7x7': (2, 2), 'MaxPool_2a_3x3': (2, 4), 'Conv2d_2b_1x1': (2, 4),
    'Conv2d_2c_3x3': (2, 4), 'MaxPool_3a_3x3': (2, 8), 'Mixed_3b': (2, 8),
    'Mixed_3c': (2, 8), 'MaxPool_4a_3x3': (4, 16), 'Mixed_4b': (4, 16),
    'Mixed_4c': (4, 16), 'Mixed_4d': (4, 16), 'Mixed_4e': (4, 16),
    'Mixed_4f': (4, 16), 'MaxPool_5a_2x2': (8, 32), 'Mixed_5b': (8, 32),
    'Mixed_5c': (8, 32)}


@pytest.fixture(scope='module')
def tiny_run():
  """A tiny original-setting S3D-G run for real on [1, 8, 64, 64, 3]."""
  model = s3dg.S3DG(**TINY)
  video = tf.random.stateless_uniform((1, 8, 64, 64, 3), (0, 1), -1.0, 1.0)
  return model, video, model(video, training=False)


def test_endpoint_names_in_order():
  assert s3dg.ENDPOINTS == tuple(FULL_CHANNELS)
  assert list(s3dg.endpoint_specs()) == list(s3dg.ENDPOINTS)


def test_endpoint_specs_at_depth_multiplier_one():
  specs = s3dg.endpoint_specs(1.0, 16)
  for name, spec in specs.items():
    assert spec.channels == FULL_CHANNELS[name], name
    assert (spec.temporal_stride, spec.spatial_stride) == STRIDES[name], name


def test_endpoint_specs_apply_min_depth():
  # Mixed_3b = 64 + 128 + 32 + 32 at m=1; at m=0.25: 16 + 32 + max(8, 8) + 8.
  assert s3dg.endpoint_specs(0.25, 8)['Mixed_3b'].channels == 64
  # With min_depth 16 the 8-wide branches grow to 16.
  assert s3dg.endpoint_specs(0.25, 16)['Mixed_3b'].channels == 16 + 32 + 16 + 16
  assert s3dg.endpoint_specs(0.25, 16)['Mixed_4f'].channels == 208


def test_endpoint_output_shape_rounds_up():
  assert s3dg.endpoint_output_shape('Mixed_4f', 16, 224, 224) == (4, 14, 14,
                                                                  832)
  assert s3dg.endpoint_output_shape('Mixed_5c', 16, 224, 224) == (2, 7, 7,
                                                                  1024)
  assert s3dg.endpoint_output_shape('Mixed_4f', 10, 300, 400) == (3, 19, 25,
                                                                  832)


def test_full_size_shapes_symbolically():
  """Builds the paper-sized network on a symbolic input: no real compute."""
  video = tf_keras.Input((16, 224, 224, 3), batch_size=1)
  end_points = s3dg.S3DG()(video)
  assert list(end_points) == list(s3dg.ENDPOINTS)
  assert end_points['Mixed_4f'].shape.as_list() == [1, 4, 14, 14, 832]
  assert end_points['Mixed_5c'].shape.as_list() == [1, 2, 7, 7, 1024]
  for name, tensor in end_points.items():
    assert tuple(tensor.shape[1:]) == s3dg.endpoint_output_shape(
        name, 16, 224, 224), name


def test_tiny_network_runs_with_expected_shapes(tiny_run):
  _, _, end_points = tiny_run
  assert list(end_points) == list(s3dg.ENDPOINTS)
  for name, tensor in end_points.items():
    assert tuple(tensor.shape) == (1,) + s3dg.endpoint_output_shape(
        name, 8, 64, 64, **TINY), name
    assert np.all(np.isfinite(tensor.numpy()))
  assert end_points['Mixed_5c'].shape == (1, 1, 2, 2, 256)


def test_original_setting_is_separable_and_gated_from_conv2c(tiny_run):
  model = tiny_run[0]
  conv2c = model.block('Conv2d_2c_3x3')
  assert conv2c.conv_kernel_sizes == ((1, 3, 3), (3, 1, 1))
  assert conv2c.uses_gating
  assert model.block('Conv2d_1a_7x7').conv_kernel_sizes == ((3, 7, 7),)
  assert not model.block('Conv2d_2b_1x1').uses_gating
  mixed_3b = model.block('Mixed_3b').units['Branch_1/Conv2d_0b_3x3']
  assert mixed_3b.conv_kernel_sizes == ((1, 3, 3), (3, 1, 1))


def test_top_heavy_setting_uses_2d_convs_and_no_gating_before_mixed_4b():
  model = s3dg.S3DG(first_temporal_kernel_size=1, final_endpoint='Mixed_4c',
                    **s3dg.S3DG_PRESETS['top_heavy'], **TINY)
  model(tf.zeros((1, 4, 32, 32, 3)))
  units = {'Conv2d_2c_3x3': model.block('Conv2d_2c_3x3')}
  for endpoint in ('Mixed_3b', 'Mixed_3c', 'Mixed_4b', 'Mixed_4c'):
    for scope, unit in model.block(endpoint).units.items():
      units[f'{endpoint}/{scope}'] = unit
  for name, unit in units.items():
    before = not name.startswith('Mixed_4')
    if before:
      assert not unit.uses_gating, name
      assert all(k[0] == 1 for k in unit.conv_kernel_sizes), name
    elif name.endswith('Conv2d_0b_3x3'):
      assert unit.conv_kernel_sizes == ((1, 3, 3), (3, 1, 1)), name
  assert units['Conv2d_2c_3x3'].conv_kernel_sizes == ((1, 3, 3),)
  assert units['Mixed_3b/Branch_1/Conv2d_0b_3x3'].conv_kernel_sizes == (
      (1, 3, 3),)
  assert units['Mixed_4b/Branch_0/Conv2d_0a_1x1'].uses_gating
  assert units['Mixed_4c/Branch_3/Conv2d_0b_1x1'].uses_gating
  assert not units['Mixed_4b/Branch_1/Conv2d_0a_1x1'].uses_gating
  names = model.slim_variables()
  assert not any('self_gating' in n for n in names
                 if not n.startswith('Mixed_4'))
  assert 'Mixed_4b/Branch_1/Conv2d_0b_3x3/temporal/weights' in names
  assert 'Mixed_3c/Branch_1/Conv2d_0b_3x3/temporal/weights' not in names
  assert names['Conv2d_1a_7x7/weights'].shape == (1, 7, 7, 3, 16)


def test_start_and_end_endpoints_resume_the_same_computation(tiny_run):
  model, video, end_points = tiny_run
  head = model(video, training=False, end_endpoint='Mixed_3c')
  assert list(head) == list(s3dg.ENDPOINTS[:7])
  tail = model(head['Mixed_3c'], training=False,
               start_endpoint='MaxPool_4a_3x3', end_endpoint='Mixed_4f')
  assert list(tail) == list(s3dg.ENDPOINTS[7:13])
  np.testing.assert_allclose(tail['Mixed_4f'], end_points['Mixed_4f'],
                             atol=1e-5)


def test_variables_are_named_like_slim(tiny_run):
  model = tiny_run[0]
  names = model.slim_variables()
  assert len(names) == len(model.variables)
  for slim_name, variable in names.items():
    keras = variable.name[len('s3dg/'):-len(':0')]
    keras = keras.replace('conv3d/kernel', 'weights').replace(
        'kernel', 'weights').replace('bias', 'biases')
    assert keras == slim_name


def test_head_has_backbone_mixed_5_names_and_shapes(tiny_run):
  model = tiny_run[0]
  head = s3dg.S3DGHead(**TINY)
  crops = tf.random.stateless_normal((3, 4, 7, 7, 208), (2, 3))
  out = head(crops, training=False)
  assert out.shape == (3, 4, 7, 7, 256)
  backbone = {n: v.shape for n, v in model.slim_variables().items()
              if n.startswith('Mixed_5')}
  assert {n: v.shape for n, v in head.slim_variables().items()} == backbone
  pooled = s3dg.S3DGHead(include_max_pool=True, **TINY)(crops)
  assert pooled.shape == (3, 2, 4, 4, 256)


def test_head_equals_backbone_blocks_with_equal_weights(tiny_run):
  model, _, end_points = tiny_run
  head = s3dg.S3DGHead(include_max_pool=True, **TINY)
  head(end_points['Mixed_4f'])
  backbone = model.slim_variables()
  for name, variable in head.slim_variables().items():
    variable.assign(backbone[name])
  np.testing.assert_allclose(head(end_points['Mixed_4f'], training=False),
                             end_points['Mixed_5c'], atol=1e-5)


def test_final_endpoint_stops_the_network():
  model = s3dg.S3DG(final_endpoint='MaxPool_2a_3x3', input_channels=2, **TINY)
  out = model(tf.zeros((1, 2, 8, 8, 2)))
  assert list(out) == ['Conv2d_1a_7x7', 'MaxPool_2a_3x3']
  assert out['MaxPool_2a_3x3'].shape == (1, 1, 2, 2, 16)


@pytest.mark.parametrize('kwargs, message', [
    (dict(first_temporal_kernel_size=2), 'first_temporal_kernel_size'),
    (dict(final_endpoint='Mixed_6a'),
     "final_endpoint: unknown S3D-G endpoint 'Mixed_6a'"),
    (dict(gating_startat='MaxPool_3a_3x3'), 'gating_startat'),
    (dict(temporal_conv_startat='Conv2d_1a_7x7'), 'temporal_conv_startat'),
    (dict(depth_multiplier=0.0), 'depth_multiplier must be > 0'),
])
def test_bad_arguments_are_refused(kwargs, message):
  with pytest.raises(ValueError, match=message):
    s3dg.S3DG(**kwargs)


def test_wrong_input_channels_are_refused():
  model = s3dg.S3DG(final_endpoint='Conv2d_1a_7x7', **TINY)
  with pytest.raises(ValueError, match='expected 3 input channels'):
    model(tf.zeros((1, 2, 8, 8, 2)))


def test_end_before_start_is_refused(tiny_run):
  model = tiny_run[0]
  with pytest.raises(ValueError, match='cannot run'):
    model(tf.zeros((1, 2, 2, 2, 208)), start_endpoint='Mixed_5b',
          end_endpoint='Mixed_4f')


def test_config_round_trip():
  model = s3dg.S3DG(final_endpoint='Mixed_3b', use_frozen_batch_norm=True,
                    **s3dg.S3DG_PRESETS['top_heavy'], **TINY)
  clone = s3dg.S3DG.from_config(model.get_config())
  assert clone.get_config() == model.get_config()
  head = s3dg.S3DGHead(**TINY)
  assert s3dg.S3DGHead.from_config(head.get_config()).get_config() == (
      head.get_config())
  assert isinstance(model.block('Mixed_3b'), s3dg_layers.InceptionBlock3D)
