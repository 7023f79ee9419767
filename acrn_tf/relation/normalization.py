"""The paper's normalise-and-rescale of actor and scene features (4.2).

Actor and scene features come from different layers with different
amplitudes. Before they are concatenated and fed to g_theta (or the 1x1
convolution of Resize+Concat), each part is L2-normalised along channels,
and the concatenation is rescaled to the L2 norm of the actor feature:

  x = ||a|| / ||[a / ||a||; s_1 / ||s_1||; ...; s_n / ||s_n||]||
        * [a / ||a||; s_1 / ||s_1||; ...; s_n / ||s_n||]

Each normalised part is a unit vector, so the concatenation of the actor
part and n scene maps has norm sqrt(n + 1), and the rescale factor is the
scalar ||a|| / sqrt(n + 1) of the actor alone (constant over scene
locations). That is what lets ACRN compute g_theta's scene part once per
image (`g_theta.PairwiseRelationConv`). Each scene map is normalised on its
own, so maps of different layers weigh the same. (Only an all-zero vector,
which `tf.math.l2_normalize` leaves at zero, has a norm other than 1; the
rescale still uses sqrt(n + 1) then, keeping the factor per actor.)

Boxes and locations are in [0, 1] already and enter unnormalised.

Norms are computed in float32 whatever the features' dtype: under a float16
policy a sum of squares overflows above ~256 per channel, and the tiny
epsilon underflows to zero.
"""

import math

import tensorflow as tf

# `tf.math.l2_normalize` bound on the squared norm.
_EPSILON = 1e-12


def l2_normalize_channels(features: tf.Tensor) -> tf.Tensor:
  """L2-normalises `features` [..., c] along the last axis (zero stays zero).

  Computed in float32; returned in the features' dtype.
  """
  normalized = tf.math.l2_normalize(tf.cast(features, tf.float32), axis=-1,
                                    epsilon=_EPSILON)
  return tf.cast(normalized, features.dtype)


def channel_norm(features: tf.Tensor) -> tf.Tensor:
  """The L2 norm of `features` [..., c] along the last axis, shape [...].

  Computed in float32 and returned in the features' dtype; the squared norm
  is bounded below by the epsilon of `l2_normalize_channels`, so an
  all-zero vector has norm 1e-6 and a finite gradient (the plain norm's
  gradient at zero is NaN).
  """
  squared = tf.reduce_sum(tf.square(tf.cast(features, tf.float32)), axis=-1)
  return tf.cast(tf.sqrt(tf.maximum(squared, _EPSILON)), features.dtype)


def rescale_factor(actor_features: tf.Tensor,
                   num_scene_maps: int) -> tf.Tensor:
  """Factor that rescales the normalised concatenation to the actor's norm.

  Args:
    actor_features: float32 [..., c_a], the unnormalised actor feature (a
      vector per actor, or per crop cell for Resize+Concat).
    num_scene_maps: how many L2-normalised scene maps are concatenated to the
      normalised actor feature (>= 1).

  Returns:
    float32 [...], ||actor_features|| / sqrt(num_scene_maps + 1).
  """
  if num_scene_maps < 1:
    raise ValueError(f'num_scene_maps must be >= 1, got {num_scene_maps}.')
  return channel_norm(actor_features) / math.sqrt(num_scene_maps + 1.0)
