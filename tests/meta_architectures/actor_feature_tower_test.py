"""ActorFeatureTower: per-ROI crops in, pooled actor features (and maps) out."""

import numpy as np
import tensorflow as tf

from acrn_tf.meta_architectures import actor_feature_tower


def _tower(**kwargs):
  return actor_feature_tower.ActorFeatureTower(
      inflated_time_steps=2, depth_multiplier=0.125, name='action_head',
      **kwargs)


def test_features_are_the_mean_of_the_maps():
  tower = _tower(return_maps=True)
  crops = tf.random.stateless_normal([2, 3, 4, 4, 16], seed=[1, 2])
  features, maps = tower(crops, training=False)
  assert features.shape == (2, 3, tower.output_channels)
  assert maps.shape[:2] == (2, 3) and maps.shape[-1] == tower.output_channels
  np.testing.assert_allclose(features.numpy(),
                             tf.reduce_mean(maps, axis=[2, 3]).numpy(),
                             rtol=1e-5, atol=1e-6)


def test_a_2d_crop_is_the_same_crop_inflated_in_time():
  tower = _tower()
  crops = tf.random.stateless_normal([1, 2, 4, 4, 16], seed=[3, 4])
  inflated = tf.tile(crops[:, :, tf.newaxis], [1, 1, 2, 1, 1, 1])
  np.testing.assert_allclose(tower(crops, training=False).numpy(),
                             tower(inflated, training=False).numpy(),
                             rtol=1e-5, atol=1e-6)


def test_config_round_trip_keeps_the_layer_name():
  tower = _tower()
  config = tower.get_config()
  assert config['name'] == 'action_head'
  assert config['inflated_time_steps'] == 2
  again = actor_feature_tower.ActorFeatureTower.from_config(config)
  assert again.name == 'action_head'
