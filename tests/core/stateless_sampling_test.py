"""Tests of the seeded balanced positive/negative sampler."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.core import stateless_sampling


def _sample(candidates, positives, num_samples, fraction, seed):
  return stateless_sampling.balanced_sample(
      tf.constant(candidates), tf.constant(positives), num_samples, fraction,
      tf.constant(seed, tf.int64)).numpy()


def _rows():
  # Row 0: 6 positive and 10 negative candidates, 4 non-candidates (two of
  # them labelled positive). Row 1: 2 positives, 3 negatives (too few to
  # fill the sample). Row 2: no candidates.
  candidates = np.zeros([3, 20], bool)
  positives = np.zeros([3, 20], bool)
  candidates[0, :16] = True
  positives[0, [0, 3, 5, 7, 9, 11, 17, 19]] = True
  candidates[1, [2, 4, 6, 8, 10]] = True
  positives[1, [4, 8]] = True
  return candidates, positives


@pytest.mark.parametrize('seed', [(0, 0), (3, 7), (123, 456)])
def test_counts_respect_the_fraction_and_candidates(seed):
  candidates, positives = _rows()
  sampled = _sample(candidates, positives, 8, 0.25, seed)
  picked_positive = (sampled & positives).sum(-1)
  picked = sampled.sum(-1)
  # Row 0: at most 8 * 0.25 = 2 positives, filled to 8 with negatives.
  assert picked_positive[0] == 2 and picked[0] == 8
  # Row 1: both positives fit the cap of 2; all 3 negatives; 5 < 8 in all.
  assert picked_positive[1] == 2 and picked[1] == 5
  assert picked[2] == 0
  # Only candidates are picked (not the labelled non-candidates 17, 19).
  assert not (sampled & ~candidates).any()


def test_missing_positives_are_replaced_by_negatives():
  candidates = np.ones([1, 12], bool)
  positives = np.zeros([1, 12], bool)
  positives[0, 0] = True
  sampled = _sample(candidates, positives, 6, 0.5, (1, 2))
  # One positive (all there is) and 5 negatives.
  assert sampled[0, 0] and sampled.sum() == 6


def test_total_is_min_of_num_samples_and_candidates():
  candidates = np.zeros([2, 10], bool)
  candidates[0, :3] = True
  candidates[1, :] = True
  positives = np.zeros([2, 10], bool)
  sampled = _sample(candidates, positives, 5, 0.5, (0, 1))
  np.testing.assert_array_equal(sampled.sum(-1), [3, 5])


def test_same_seed_same_picks_and_different_seed_different_picks():
  candidates, positives = _rows()
  first = _sample(candidates, positives, 8, 0.25, (5, 1))
  again = _sample(candidates, positives, 8, 0.25, (5, 1))
  np.testing.assert_array_equal(first, again)
  others = [_sample(candidates, positives, 8, 0.25, (5, step))
            for step in range(2, 6)]
  # Row 0 has C(6, 2) * C(10, 6) = 3150 possible samples: different seeds
  # (different steps) must not all repeat the first one.
  assert any(not np.array_equal(first[0], other[0]) for other in others)


def test_picks_are_uniform_among_candidates():
  candidates = np.zeros([1, 12], bool)
  candidates[0, 1:11] = True
  positives = np.zeros([1, 12], bool)
  positives[0, 1:5] = True  # 4 positives, 6 negatives
  # 20 seeds x 50 rows (rows of one seed draw independent scores).
  num_seeds, num_rows = 20, 50
  num_draws = num_seeds * num_rows
  counts = np.zeros(12)
  for step in range(num_seeds):
    counts += _sample(np.repeat(candidates, num_rows, 0),
                      np.repeat(positives, num_rows, 0), 4, 0.5,
                      (9, step)).sum(0)
  # Each positive is picked with probability 2/4, each negative 2/6.
  frequency = counts / num_draws
  np.testing.assert_allclose(frequency[1:5], 0.5, atol=0.07)
  np.testing.assert_allclose(frequency[5:11], 1 / 3, atol=0.07)
  assert counts[0] == counts[11] == 0


def test_compiles_with_xla_and_keeps_static_shapes():
  candidates, positives = _rows()

  @tf.function(jit_compile=True)
  def sample(seed):
    sampled = stateless_sampling.balanced_sample(
        tf.constant(candidates), tf.constant(positives), 8, 0.25, seed)
    indices, valid = stateless_sampling.sampled_indices(sampled, 8)
    return sampled, indices, valid

  seed = tf.constant([4, 2], tf.int64)
  sampled, indices, valid = sample(seed)
  assert sampled.shape == (3, 20)
  assert indices.shape == valid.shape == (3, 8)
  # XLA draws its own Philox stream, reproducibly, with the same counts.
  np.testing.assert_array_equal(sampled.numpy(), sample(seed)[0].numpy())
  sampled = sampled.numpy()
  np.testing.assert_array_equal((sampled & positives).sum(-1), [2, 2, 0])
  np.testing.assert_array_equal(sampled.sum(-1), [8, 5, 0])
  assert not (sampled & ~candidates).any()
  np.testing.assert_array_equal(valid.numpy().sum(-1), [8, 5, 0])
  np.testing.assert_array_equal(
      np.take_along_axis(sampled, indices.numpy(), -1), valid.numpy())


def test_sampled_indices_lists_picks_first_then_fillers():
  sampled = tf.constant([[False, True, False, True, False, False],
                         [True, True, True, False, True, False]])
  indices, valid = stateless_sampling.sampled_indices(sampled, 4)
  np.testing.assert_array_equal(indices, [[1, 3, 0, 2], [0, 1, 2, 4]])
  np.testing.assert_array_equal(valid, [[True, True, False, False],
                                        [True, True, True, True]])


def test_fold_in_gives_distinct_reproducible_seeds():
  seed = tf.constant([3, 4], tf.int64)
  one = stateless_sampling.fold_in(seed, 1).numpy()
  np.testing.assert_array_equal(one, stateless_sampling.fold_in(seed, 1))
  assert not np.array_equal(one, stateless_sampling.fold_in(seed, 2))
  assert one.dtype == np.int64 and one.shape == (2,)


def test_default_seed_is_used_for_none():
  np.testing.assert_array_equal(stateless_sampling.as_seed(None),
                                stateless_sampling.DEFAULT_SEED)


def test_bad_inputs_are_refused():
  candidates, positives = _rows()
  with pytest.raises(ValueError, match='positive_fraction must be in'):
    _sample(candidates, positives, 8, 1.5, (0, 0))
  with pytest.raises(ValueError, match='num_samples must be an int >= 0'):
    _sample(candidates, positives, -1, 0.5, (0, 0))
  with pytest.raises(ValueError, match=r'must be \[batch, N\]'):
    _sample(candidates[0], positives[0], 8, 0.5, (0, 0))
  with pytest.raises(ValueError, match=r'seed must have shape \[2\]'):
    stateless_sampling.as_seed([1, 2, 3])
  with pytest.raises(ValueError, match='seed must be an integer tensor'):
    stateless_sampling.as_seed([1.0, 2.0])
  with pytest.raises(ValueError, match='cannot take 8 samples from 6'):
    stateless_sampling.sampled_indices(tf.zeros([1, 6], tf.bool), 8)
