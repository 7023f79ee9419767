"""The `none` relation module and the RelationModule defaults."""

import numpy as np
import tensorflow as tf

from acrn_tf.relation import none


def test_no_relation_adds_nothing():
  module = none.NoRelation()
  crops = tf.ones([2, 3, 7, 7, 8])
  boxes = tf.zeros([2, 3, 4])
  assert module.head_inputs(crops, boxes, {}) is crops
  outputs = module(tf.ones([2, 3, 16]), boxes, {})
  assert outputs.relation_features is None
  assert outputs.relation_maps is None
  assert module.scene_endpoints == ()
  assert module.output_channels == 0
  assert not module.has_relation_maps
  assert not module.trainable_weights


def test_round_trips_its_config():
  module = none.NoRelation(gradient_multiplier=0.5)
  clone = none.NoRelation.from_config(module.get_config())
  assert clone.gradient_multiplier == 0.5
  np.testing.assert_equal(clone.get_config(), module.get_config())
