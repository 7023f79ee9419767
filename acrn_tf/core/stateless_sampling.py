"""Seeded, stateless balanced sampling of positives and negatives.

Training samples a minibatch of ROIs for the action head and of anchors for
the RPN loss. Model Garden's samplers
(`official.vision.ops.sampling_ops.BalancedPositiveNegativeSampler`, used by
`ROISampler`, and `official.vision.utils.object_detection`'s, used by
`RpnAnchorLabeler`) draw with `tf.random.shuffle`, a stateful op whose state
lives in the process and is not checkpointed: a job restarted from a
checkpoint draws different samples than the job that was never stopped, so
its weights diverge. The sampler here draws from an explicit seed instead
(`tf.random.stateless_uniform` scores ranked with `top_k`), and the trainer
derives the seed from (train_config.seed, global step), so a step draws the
same samples whenever and wherever it runs. Shapes are static (XLA and TPU
friendly).

Seeds are int32/int64 tensors of shape [2], as `tf.random.stateless_*` take.
"""

from typing import Optional, Sequence, Tuple, Union

import tensorflow as tf

# The seed of sampling calls that were given none (e.g. a test calling
# `predict(training=True)` directly): fixed, so they stay deterministic.
DEFAULT_SEED = (0, 0)

# Philox on CPU and GPU kernels alike ('auto_select' is device dependent).
# XLA compiles its own Philox stream: a step compiled with XLA draws other
# (equally seeded, equally reproducible) samples than the same step without.
RNG_ALGORITHM = 'philox'

SeedLike = Union[tf.Tensor, Sequence[int]]


def as_seed(seed: Optional[SeedLike], name: str = 'seed') -> tf.Tensor:
  """A stateless seed as an int64 [2] tensor (`DEFAULT_SEED` for None).

  Args:
    seed: None, a pair of ints or an integer tensor of shape [2].
    name: the argument's name, for the error message.

  Returns:
    int64 tensor [2].

  Raises:
    ValueError: `seed` is not integer or its static shape is not [2].
  """
  if seed is None:
    seed = DEFAULT_SEED
  seed = tf.convert_to_tensor(seed)
  if not seed.dtype.is_integer:
    raise ValueError(f'{name} must be an integer tensor of shape [2], got '
                     f'dtype {seed.dtype.name}')
  if seed.shape.rank is not None and seed.shape.as_list() != [2]:
    raise ValueError(f'{name} must have shape [2] (a stateless seed), got '
                     f'{seed.shape}')
  return tf.cast(seed, tf.int64)


def fold_in(seed: SeedLike, data: Union[int, tf.Tensor]) -> tf.Tensor:
  """A new int64 [2] seed from `seed` and an integer (a purpose or an id).

  Different `data` give independent streams, so one step seed can feed the
  ROI sampler, the RPN sampler and dropout without correlating them.
  """
  return tf.random.experimental.stateless_fold_in(
      as_seed(seed), tf.cast(data, tf.int64), alg=RNG_ALGORITHM)


def _ranks(keys: tf.Tensor) -> tf.Tensor:
  """Each entry's 0-based rank in its row by descending key (ties: index)."""
  length = keys.shape[-1]
  order = tf.math.top_k(keys, k=length, sorted=True).indices
  return tf.argsort(order, axis=-1, stable=True)


def balanced_sample(candidates: tf.Tensor,
                    positives: tf.Tensor,
                    num_samples: int,
                    positive_fraction: float,
                    seed: SeedLike) -> tf.Tensor:
  """Picks per row up to `num_samples` candidates, positives capped.

  Each row takes `num_positive = min(floor(num_samples * positive_fraction),
  #positive candidates)` positive candidates, then `min(num_samples -
  num_positive, #negative candidates)` negative candidates, each set
  uniformly at random among its candidates. As in the OD API's sampler, the
  positive share is a cap: missing positives are replaced by negatives, and
  missing negatives are not replaced.

  Args:
    candidates: bool [batch, N], entries that may be picked.
    positives: bool [batch, N], positive entries (negatives are the other
      candidates). Non-candidates are never picked whatever their label.
    num_samples: entries to pick per row (a Python int >= 0).
    positive_fraction: the most positives in a full sample, in [0, 1].
    seed: int32/int64 [2] stateless seed; the same seed gives the same picks.

  Returns:
    bool [batch, N], True for the picked entries.

  Raises:
    ValueError: a bad fraction, count or shape.
  """
  if not 0.0 <= positive_fraction <= 1.0:
    raise ValueError('positive_fraction must be in [0, 1], got '
                     f'{positive_fraction}')
  if not isinstance(num_samples, int) or num_samples < 0:
    raise ValueError(f'num_samples must be an int >= 0, got {num_samples!r}')
  candidates = tf.convert_to_tensor(candidates)
  positives = tf.convert_to_tensor(positives)
  if candidates.shape.rank != 2 or positives.shape.rank != 2:
    raise ValueError('candidates and positives must be [batch, N], got '
                     f'{candidates.shape} and {positives.shape}')
  if candidates.shape[-1] is None:
    raise ValueError('candidates must have a static number of entries N, '
                     f'got {candidates.shape}')
  candidates = tf.cast(candidates, tf.bool)
  positives = tf.logical_and(tf.cast(positives, tf.bool), candidates)
  negatives = tf.logical_and(candidates, tf.logical_not(positives))

  scores = tf.random.stateless_uniform(tf.shape(candidates), as_seed(seed),
                                       alg=RNG_ALGORITHM)
  max_positives = int(num_samples * positive_fraction)

  def take(mask, count):
    # Candidates of `mask` outrank the rest (scores are in [0, 1)).
    ranks = _ranks(tf.where(mask, scores, -1.0))
    return tf.logical_and(mask, ranks < count[:, tf.newaxis])

  def count(mask):
    return tf.reduce_sum(tf.cast(mask, tf.int32), axis=-1)

  num_positive = tf.minimum(count(positives), max_positives)
  num_negative = tf.minimum(count(negatives), num_samples - num_positive)
  return tf.logical_or(take(positives, num_positive),
                       take(negatives, num_negative))


def sampled_indices(sampled: tf.Tensor,
                    num_samples: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """Indices of the picked entries, in index order, padded to `num_samples`.

  Args:
    sampled: bool [batch, N] (`balanced_sample` output), N >= num_samples.
    num_samples: K, the number of indices per row.

  Returns:
    (indices int32 [batch, K], valid bool [batch, K]): the picked entries
    first in ascending index order, then (valid False) the lowest unpicked
    indices to fill a row that picked fewer than K.

  Raises:
    ValueError: N is smaller than K.
  """
  length = sampled.shape[-1]
  if length is None or length < num_samples:
    raise ValueError(f'cannot take {num_samples} samples from {length} '
                     'entries per row')
  # top_k puts equal keys in index order.
  indices = tf.math.top_k(tf.cast(sampled, tf.int32), k=num_samples,
                          sorted=True).indices
  return indices, tf.gather(sampled, indices, batch_dims=1)
