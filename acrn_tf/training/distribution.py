"""Picks the tf.distribute strategy a training or evaluation job runs on.

The same `model_main` serves every setting: one device (the default
strategy), several local GPUs (MirroredStrategy), several machines named by
`TF_CONFIG` (MultiWorkerMirroredStrategy) and a TPU (TPUStrategy).
"""

import json
import os
from typing import Optional

from absl import logging
import tensorflow as tf


def num_workers_in_tf_config(tf_config: Optional[str] = None) -> int:
  """Workers (chief included) named by `TF_CONFIG`; 0 when it is unset.

  Raises:
    ValueError: `TF_CONFIG` is not JSON or its cluster is malformed.
  """
  text = os.environ.get('TF_CONFIG', '') if tf_config is None else tf_config
  if not text:
    return 0
  try:
    config = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f'TF_CONFIG is not valid JSON: {e}') from e
  cluster = config.get('cluster', {})
  if not isinstance(cluster, dict):
    raise ValueError(f'TF_CONFIG: "cluster" must be an object, got {cluster!r}')
  return sum(len(cluster.get(job, [])) for job in ('chief', 'worker'))


def build_strategy(use_tpu: bool = False, tpu_name: str = '',
                   num_workers: int = 1) -> tf.distribute.Strategy:
  """Returns the strategy for this process.

  Args:
    use_tpu: run on a TPU (`tpu_name` names it; '' for a local TPU VM).
    tpu_name: the TPU's name or address.
    num_workers: workers the user expects (`--num_workers`); with more than
      one, `TF_CONFIG` must name that many.

  Returns:
    TPUStrategy, MultiWorkerMirroredStrategy (TF_CONFIG names more than one
    worker), MirroredStrategy (more than one local GPU) or the default
    strategy.

  Raises:
    ValueError: `--num_workers` disagrees with `TF_CONFIG`.
  """
  if use_tpu:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=tpu_name or '')
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    logging.info('Strategy: TPUStrategy on %r.', tpu_name or 'local TPU')
    return tf.distribute.TPUStrategy(resolver)
  workers = num_workers_in_tf_config()
  if num_workers > 1 and workers != num_workers:
    raise ValueError(f'--num_workers={num_workers} but TF_CONFIG names '
                     f'{workers} workers.')
  if workers > 1:
    logging.info('Strategy: MultiWorkerMirroredStrategy over %d workers.',
                 workers)
    return tf.distribute.MultiWorkerMirroredStrategy()
  gpus = tf.config.list_logical_devices('GPU')
  if len(gpus) > 1:
    logging.info('Strategy: MirroredStrategy over %d GPUs.', len(gpus))
    return tf.distribute.MirroredStrategy()
  logging.info('Strategy: the default strategy on one device.')
  return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this worker writes checkpoints and summaries to model_dir."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not isinstance(
      strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  if task_type == 'chief':
    return True
  has_chief = 'chief' in resolver.cluster_spec().as_dict()
  return task_type in (None, 'worker') and task_id == 0 and not has_chief


def worker_model_dir(model_dir: str, strategy: tf.distribute.Strategy) -> str:
  """model_dir for the chief; a private temporary folder for other workers.

  MultiWorkerMirroredStrategy needs every worker to save (saving is a
  collective), but only the chief's files are kept.
  """
  if is_chief(strategy):
    return model_dir
  resolver = strategy.cluster_resolver
  return os.path.join(model_dir, 'workers',
                      f'{resolver.task_type}_{resolver.task_id}')
