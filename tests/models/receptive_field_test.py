"""receptive_field: extents worked out by hand, checked by perturbation."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from acrn_tf.models import receptive_field
from acrn_tf.models import s3dg


def _network(gating_startat=None, final_endpoint='Mixed_3c'):
  tf_keras.utils.set_random_seed(0)
  return s3dg.S3DG(temporal_conv_startat='Mixed_4b',
                   gating_startat=gating_startat, depth_multiplier=0.25,
                   min_depth=8, final_endpoint=final_endpoint)


def test_mixed_3c_without_gating():
  # Spatially: Conv2d_1a 7x7/2 -> 7 px (jump 2); MaxPool_2a 3x3/2 -> 11
  # (jump 4); Conv2d_2c 3x3 -> 19; MaxPool_3a 3x3/2 -> 27 (jump 8); a 3x3
  # in each of Mixed_3b and 3c -> 43, 59. In time: Conv2d_1a 3/2 -> 3
  # frames (jump 2), the 3x3x3 max pool of Mixed_3b and 3c -> 7, 11.
  extent = receptive_field.measure(_network(), 'Mixed_3c', 16, 96, 96)
  assert extent.map_shape == (8, 12, 12)
  assert extent.unit == (4, 6, 6)
  assert extent.size == (11, 59, 59)
  assert extent.input_shape == (16, 96, 96)
  assert not extent.whole_input


def test_mixed_4f_without_and_with_gating():
  # MaxPool_4a 3x3x3/2 -> 75 px (jump 16); five Mixed_4 blocks -> 235.
  without = receptive_field.measure(
      _network(final_endpoint='Mixed_4f'), 'Mixed_4f', 4, 320, 320)
  assert without.size[1:] == (235, 235)
  with_gating = receptive_field.measure(
      _network('Mixed_4b', 'Mixed_4f'), 'Mixed_4f', 4, 320, 320)
  assert with_gating.whole_input
  assert with_gating.rows == (0, 319) and with_gating.columns == (0, 319)


def test_early_gating_makes_every_unit_global():
  extent = receptive_field.measure(_network('Conv2d_2c_3x3'), 'Mixed_3c',
                                   4, 96, 96)
  assert extent.whole_input


def test_the_extent_agrees_with_perturbing_single_pixels():
  network = _network()
  extent = receptive_field.measure(network, 'Mixed_3c', 4, 96, 96)
  clip = tf.random.stateless_uniform([1, 4, 96, 96, 3], seed=[0, 0],
                                     minval=-1.0, maxval=1.0).numpy()
  t, y, x = extent.unit

  def unit_value(row, column):
    changed = clip.copy()
    if row is not None:
      changed[0, :, row, column, :] += 5.0
    features = network(tf.constant(changed), training=False,
                       end_endpoint='Mixed_3c')['Mixed_3c']
    return features[0, t, y, x].numpy()

  reference = unit_value(None, None)
  middle = (extent.columns[0] + extent.columns[1]) // 2
  for row in (extent.rows[0] - 1, extent.rows[1] + 1):
    np.testing.assert_array_equal(unit_value(row, middle), reference)
  for row in extent.rows:
    assert np.abs(unit_value(row, middle) - reference).max() > 0


def test_errors():
  network = _network()
  with pytest.raises(ValueError, match=r"endpoint 'Mixed_4f': the network "
                     r'builds Conv2d_1a_7x7, .*, Mixed_3c$'):
    receptive_field.measure(network, 'Mixed_4f', 4, 96, 96)
  with pytest.raises(ValueError, match=r'must be >= 1, got 4, 0, 96, 2'):
    receptive_field.measure(network, 'Mixed_3c', 4, 0, 96)


def test_a_unit_no_pixel_reaches_is_refused():
  network = _network()
  receptive_field.measure(network, 'Mixed_3c', 4, 96, 96)  # builds it
  for variable in network.variables:
    variable.assign(tf.zeros_like(variable))
  with pytest.raises(ValueError, match=r'Mixed_3c unit \(1, 6, 6\): no input '
                     r'pixel changes it \(seed 0\)'):
    receptive_field.measure(network, 'Mixed_3c', 4, 96, 96)


def test_with_and_without_gating_from_s3dg_kwargs():
  kwargs = dict(temporal_conv_startat='Mixed_4b', gating_startat='Mixed_4b',
                depth_multiplier=0.25, min_depth=8, final_endpoint='Mixed_5c')
  extents = receptive_field.measure_with_and_without_gating(
      kwargs, 'Mixed_4f', 4, 320, 320)
  assert [name for name, _ in extents] == ['as configured', 'without gating']
  assert extents[0][1].whole_input
  assert extents[1][1].size[1:] == (235, 235)
  # A network that does not gate is measured once.
  ungated = receptive_field.measure_with_and_without_gating(
      dict(kwargs, gating_startat=None), 'Mixed_3c', 4, 96, 96)
  assert [(name, extent.size) for name, extent in ungated] == [
      ('as configured', (4, 59, 59))]
