"""IntervalCheckpointManager: interval checkpoints on multiples."""

import tensorflow as tf

from acrn_tf.training import checkpoint_manager


def _interval_manager(directory, step):
  return checkpoint_manager.IntervalCheckpointManager(
      tf.train.Checkpoint(step=step), directory, max_to_keep=None,
      step_counter=step, checkpoint_interval=200)


def _saved_steps(manager, step, until):
  """Saves as orbit's Controller does after each 10-step loop."""
  while int(step.numpy()) < until:
    step.assign_add(10)
    manager.save(checkpoint_number=int(step.numpy()))
  manager.save(checkpoint_number=int(step.numpy()), check_interval=False)
  return [int(p.rsplit('-', 1)[1]) for p in manager.checkpoints]


def test_interval_checkpoints_fall_on_multiples(tmp_path):
  # tf.train.CheckpointManager alone saved at 10, 210, 410 (its interval
  # counts from the first save).
  step = tf.Variable(0, dtype=tf.int64)
  manager = _interval_manager(str(tmp_path), step)
  assert _saved_steps(manager, step, 450) == [200, 400, 450]
  # A job resumed from ckpt-450 goes on at 600, not at 650.
  manager = _interval_manager(str(tmp_path), step)
  assert _saved_steps(manager, step, 620)[-2:] == [600, 620]


def test_step_from_name():
  assert checkpoint_manager.step_from_name('/runs/a/ckpt-450') == 450
  assert checkpoint_manager.step_from_name('/runs/a/model') == 0
