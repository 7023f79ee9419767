"""checkpoint_paths.resolve: prefixes, directories, and the errors."""

import pytest
import tensorflow as tf

from acrn_tf.core import checkpoint_paths


def test_prefix_and_directory(tmp_path):
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(v=tf.Variable(1.0)), str(tmp_path), max_to_keep=3)
  first = manager.save(checkpoint_number=2)
  second = manager.save(checkpoint_number=4)
  assert checkpoint_paths.resolve(first) == first
  assert checkpoint_paths.resolve(str(tmp_path)) == second


def test_errors_name_the_path(tmp_path):
  with pytest.raises(checkpoint_paths.CheckpointNotFoundError,
                     match=f'fine_tune_checkpoint {tmp_path}: no checkpoint '
                     'in this directory'):
    checkpoint_paths.resolve(str(tmp_path), 'fine_tune_checkpoint')
  missing = str(tmp_path / 'ckpt-7')
  with pytest.raises(checkpoint_paths.CheckpointNotFoundError,
                     match=f'checkpoint {missing}: neither a directory nor a '
                     'checkpoint prefix'):
    checkpoint_paths.resolve(missing)
