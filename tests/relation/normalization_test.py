"""The normalise-and-rescale helpers against numbers worked out by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.relation import normalization


def test_rescale_factor_is_actor_norm_over_sqrt_parts():
  actor = tf.constant([[3.0, 4.0], [0.0, 1.0]])
  np.testing.assert_allclose(
      normalization.rescale_factor(actor, 1).numpy(),
      [5.0 / math.sqrt(2.0), 1.0 / math.sqrt(2.0)], rtol=1e-6)
  np.testing.assert_allclose(
      normalization.rescale_factor(actor, 2).numpy(),
      [5.0 / math.sqrt(3.0), 1.0 / math.sqrt(3.0)], rtol=1e-6)


def test_rescaled_concatenation_has_the_actor_norm():
  rng = np.random.default_rng(1)
  actor = tf.constant(rng.normal(size=(4, 6)) * 7.0, tf.float32)
  scene = tf.constant(rng.normal(size=(4, 3)) * 0.1, tf.float32)
  concat = tf.concat([normalization.l2_normalize_channels(actor),
                      normalization.l2_normalize_channels(scene)], -1)
  rescaled = normalization.rescale_factor(actor, 1)[:, None] * concat
  np.testing.assert_allclose(np.linalg.norm(rescaled.numpy(), axis=-1),
                             np.linalg.norm(actor.numpy(), axis=-1), rtol=1e-5)


def test_l2_normalize_channels_keeps_zero():
  normalized = normalization.l2_normalize_channels(
      tf.constant([[0.0, 0.0], [0.0, -2.0]]))
  np.testing.assert_allclose(normalized.numpy(), [[0.0, 0.0], [0.0, -1.0]])


def test_no_scene_map_is_refused():
  with pytest.raises(ValueError, match='num_scene_maps must be >= 1'):
    normalization.rescale_factor(tf.ones([1, 2]), 0)
