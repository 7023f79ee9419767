"""Tests of the trainer's step seeds (the training loop itself is exercised
by train_lib_test and resume_after_kill_test)."""

import numpy as np
import tensorflow as tf

from acrn_tf.training import trainer


def test_step_seed_is_the_run_seed_and_the_step():
  seed = trainer.step_seed(3, 5)
  assert seed.dtype == tf.int64
  np.testing.assert_array_equal(seed, [3, 5])


def test_step_seed_follows_a_step_variable():
  step = tf.Variable(0, dtype=tf.int64)

  @tf.function
  def seed_now():
    return trainer.step_seed(7, step)

  np.testing.assert_array_equal(seed_now(), [7, 0])
  step.assign(12)
  np.testing.assert_array_equal(seed_now(), [7, 12])
