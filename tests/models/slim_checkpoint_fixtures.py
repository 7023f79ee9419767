"""Writes TF1 name-based checkpoints with TF-slim S3D-G variable names."""

from typing import Dict

import numpy as np
import tensorflow as tf


def random_slim_values(model, scope: str = 'InceptionV1',
                       seed: int = 0) -> Dict[str, np.ndarray]:
  """Random arrays shaped as `model`'s variables, keyed by full slim name."""
  rng = np.random.default_rng(seed)
  values = {}
  for name, variable in model.slim_variables().items():
    value = rng.normal(size=variable.shape).astype(np.float32)
    if name.endswith('moving_variance'):
      value = np.abs(value) + 0.5
    values[f'{scope}/{name}'] = value
  return values


def write_checkpoint(prefix: str, values: Dict[str, np.ndarray]) -> str:
  """Saves `values` under their names, as a TF1 Saver would; returns prefix."""
  names = sorted(values)
  tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                    shape_and_slices=[''] * len(names),
                    tensors=[tf.constant(values[n]) for n in names])
  return prefix
