"""Finds the checkpoint a path means: a prefix, or a directory's latest.

Every tool that reads a checkpoint (warm start, evaluation, export,
inference) accepts both forms, with the same errors.
"""

import tensorflow as tf


class CheckpointNotFoundError(ValueError):
  """No readable checkpoint at a path."""


def resolve(path: str, what: str = 'checkpoint') -> str:
  """The checkpoint prefix of `path`: itself, or a directory's latest.

  Args:
    path: a checkpoint prefix (`.../ckpt-300`) or a directory holding the
      `checkpoint` index file that `tf.train.CheckpointManager` writes.
    what: how errors name the path (e.g. 'fine_tune_checkpoint').

  Raises:
    CheckpointNotFoundError: a directory without checkpoints, or a prefix
      without its `.index` file.
  """
  if tf.io.gfile.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest is None:
      raise CheckpointNotFoundError(
          f'{what} {path}: no checkpoint in this directory (expected a '
          '`checkpoint` file and ckpt-N.index files)')
    return latest
  if not tf.io.gfile.exists(path + '.index'):
    raise CheckpointNotFoundError(
        f'{what} {path}: neither a directory nor a checkpoint prefix '
        f'({path}.index does not exist)')
  return path
