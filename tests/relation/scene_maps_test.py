"""Scene maps: selection, scaling, the common size and the location grid."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.relation import scene_maps


def test_location_grid_is_j_over_h_and_k_over_w():
  grid = scene_maps.location_grid(2, 4).numpy()
  assert grid.shape == (2, 4, 2)
  np.testing.assert_allclose(grid[..., 0], [[0, 0, 0, 0], [0.5, 0.5, 0.5, 0.5]])
  np.testing.assert_allclose(grid[..., 1], [[0, 0.25, 0.5, 0.75]] * 2)


def test_half_scale_averages_two_by_two_blocks():
  values = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
  (out,) = scene_maps.gather_scene_maps(
      {'Mixed_4f': tf.constant(values)},
      [scene_maps.SceneFeature('Mixed_4f', 0.5)], 1.0)
  np.testing.assert_allclose(out.numpy()[0, ..., 0],
                             [[2.5, 4.5], [10.5, 12.5]], rtol=1e-6)


def test_quarter_scale_averages_every_cell_of_four_by_four_blocks():
  # A bilinear resize without antialiasing would read only the middle two
  # columns (and rows) of each block here and miss the outer ones.
  values = np.zeros((1, 4, 8, 1), np.float32)
  values[0, 0, 0] = 16.0    # a block's corner cell
  values[0, 3, 7] = 32.0
  (out,) = scene_maps.gather_scene_maps(
      {'Mixed_4f': tf.constant(values)},
      [scene_maps.SceneFeature('Mixed_4f', 0.25)], 1.0)
  np.testing.assert_allclose(out.numpy()[0, ..., 0], [[1.0, 2.0]],
                             rtol=1e-6)


def test_a_fractional_shrink_weights_cells_by_their_overlap():
  # 5 columns to 2: output cells cover [0, 2.5) and [2.5, 5).
  values = np.array([1.0, 2.0, 4.0, 8.0, 16.0], np.float32).reshape(
      1, 1, 5, 1)
  (out,) = scene_maps.gather_scene_maps(
      {'Mixed_4f': tf.constant(values)}, [scene_maps.SceneFeature()], 1.0,
      output_size=(1, 2))
  np.testing.assert_allclose(
      out.numpy().ravel(),
      [(1.0 + 2.0 + 0.5 * 4.0) / 2.5, (0.5 * 4.0 + 8.0 + 16.0) / 2.5],
      rtol=1e-6)


def test_growing_is_tf_image_resize_bilinear():
  values = tf.constant(np.random.default_rng(1).normal(size=(2, 3, 4, 5)),
                       tf.float32)
  (out,) = scene_maps.gather_scene_maps(
      {'Mixed_4f': values}, [scene_maps.SceneFeature()], 1.0,
      output_size=(7, 9))
  np.testing.assert_allclose(
      out.numpy(), tf.image.resize(values, [7, 9]).numpy(), atol=1e-5)


def test_a_shrink_compiles_with_xla_and_spreads_its_gradient_evenly():
  values = tf.constant(np.random.default_rng(2).normal(size=(1, 6, 60, 3)),
                       tf.float32)
  features = [scene_maps.SceneFeature('Mixed_4f', 0.25)]

  def shrink(tensor):
    with tf.GradientTape() as tape:
      tape.watch(tensor)
      (out,) = scene_maps.gather_scene_maps({'Mixed_4f': tensor}, features,
                                            1.0)
      loss = tf.reduce_sum(out)
    return out, tape.gradient(loss, tensor)

  eager, gradient = shrink(values)
  compiled, _ = tf.function(shrink, jit_compile=True)(values)
  assert eager.shape == (1, 2, 15, 3)
  np.testing.assert_allclose(compiled.numpy(), eager.numpy(), atol=1e-5)
  # 6 x 60 to 2 x 15: each output cell averages a 3 x 4 block.
  np.testing.assert_allclose(gradient.numpy(), 1.0 / 12.0, rtol=1e-6)


def test_scale_one_passes_the_map_through():
  values = tf.constant(np.random.default_rng(0).normal(size=(2, 3, 5, 4)),
                       tf.float32)
  (out,) = scene_maps.gather_scene_maps(
      {'Mixed_4f': values}, [scene_maps.SceneFeature()], 1.0)
  np.testing.assert_array_equal(out.numpy(), values.numpy())


def test_several_maps_share_the_largest_scaled_size():
  maps = {'Mixed_4f': tf.ones([2, 4, 5, 3]),
          'Mixed_3c': tf.ones([2, 8, 10, 6]),
          'Conv2d_2c_3x3': tf.ones([2, 16, 20, 2])}
  features = scene_maps.as_scene_features(
      [('Mixed_4f', 1.0), ('Mixed_3c', 1.0), ('Conv2d_2c_3x3', 0.5)])
  out = scene_maps.gather_scene_maps(maps, features, 1.0)
  assert [t.shape.as_list() for t in out] == [
      [2, 8, 10, 3], [2, 8, 10, 6], [2, 8, 10, 2]]
  fixed = scene_maps.gather_scene_maps(maps, features, 1.0,
                                       output_size=(7, 7))
  assert [t.shape.as_list() for t in fixed] == [
      [2, 7, 7, 3], [2, 7, 7, 6], [2, 7, 7, 2]]


def test_gradient_into_each_map_is_multiplied():
  value = tf.ones([1, 2, 2, 3])
  with tf.GradientTape() as tape:
    tape.watch(value)
    (out,) = scene_maps.gather_scene_maps(
        {'Mixed_4f': value}, [scene_maps.SceneFeature()], 0.01)
    loss = tf.reduce_sum(out)
  np.testing.assert_array_equal(tape.gradient(loss, value).numpy(),
                                np.full([1, 2, 2, 3], np.float32(0.01)))


def test_missing_endpoint_is_named():
  with pytest.raises(ValueError, match="no 'Mixed_3c'.*Mixed_4f"):
    scene_maps.gather_scene_maps({'Mixed_4f': tf.ones([1, 2, 2, 3])},
                                 [scene_maps.SceneFeature('Mixed_3c')], 1.0)


def test_bad_scene_features_are_refused():
  with pytest.raises(ValueError, match='scale of Mixed_4f must be > 0'):
    scene_maps.SceneFeature('Mixed_4f', 0.0)
  with pytest.raises(ValueError, match='at least one scene feature'):
    scene_maps.as_scene_features([])
  with pytest.raises(ValueError, match=r'must be \[batch, h, w, c\]'):
    scene_maps.gather_scene_maps({'Mixed_4f': tf.ones([2, 2, 3])},
                                 [scene_maps.SceneFeature()], 1.0)
