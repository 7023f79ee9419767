"""Restores S3D-G weights from a TF-slim (TF1, name-based) checkpoint.

Slim checkpoints name variables by scope, e.g.
`InceptionV1/Conv2d_1a_7x7/weights`, `.../BatchNorm/beta`,
`.../BatchNorm/moving_mean`, `InceptionV1/Mixed_4b/Branch_1/Conv2d_0b_3x3/
temporal/weights` (separable: spatial part at the unit's scope, temporal
part under `temporal/`) and `.../self_gating/transformer_W/weights`. Each
`S3DG` / `S3DGHead` lists its variables under those names
(`slim_variables()`); this module matches the two lists, refuses a
checkpoint that does not fit with every difference named, and assigns.

`tf.train.Checkpoint` restores object-based checkpoints only, so a slim
checkpoint is read by name with `tf.train.load_checkpoint`.
"""

import dataclasses
import re
from typing import Dict, List, Sequence, Tuple

from absl import logging
import numpy as np
import tensorflow as tf

from acrn_tf.core import checkpoint_paths
from acrn_tf.models import s3dg

DEFAULT_SCOPE = 'InceptionV1'

# Checkpoint variables no S3D-G backbone or head owns: the Kinetics
# classifier and optimizer / moving-average slots.
DEFAULT_IGNORE_PATTERNS = (
    r'/Logits/',
    r'/(Momentum|Adam|Adam_1|RMSProp|RMSProp_1|ExponentialMovingAverage)$',
)

# The only variable whose shape depends on the input channels.
FIRST_CONV_WEIGHTS = 'Conv2d_1a_7x7/weights'


class SlimCheckpointMismatchError(ValueError):
  """The checkpoint and the model's variables do not correspond one to one."""

  def __init__(self, checkpoint_path: str, unmatched_checkpoint: List[str],
               unrestored_model: List[Tuple[str, str]],
               shape_mismatches: List[Tuple[str, str, list, list]]):
    """Builds the message.

    Args:
      checkpoint_path: the checkpoint read.
      unmatched_checkpoint: checkpoint names no model variable maps to.
      unrestored_model: (slim name, Keras name) of model variables the
        checkpoint lacks.
      shape_mismatches: (slim name, Keras name, expected shape, found shape).
    """
    self.checkpoint_path = checkpoint_path
    self.unmatched_checkpoint = unmatched_checkpoint
    self.unrestored_model = unrestored_model
    self.shape_mismatches = shape_mismatches
    lines = [f'Slim checkpoint {checkpoint_path} does not fit the model; '
             'nothing was restored.']
    if unmatched_checkpoint:
      lines.append(f'{len(unmatched_checkpoint)} checkpoint variable(s) match '
                   'no model variable (add a pattern to ignore_missing to '
                   'skip them):')
      lines += [f'  {name}' for name in unmatched_checkpoint]
    if unrestored_model:
      lines.append(f'{len(unrestored_model)} model variable(s) missing from '
                   'the checkpoint:')
      lines += [f'  {slim} (Keras {keras})' for slim, keras in unrestored_model]
    if shape_mismatches:
      lines.append(f'{len(shape_mismatches)} shape mismatch(es):')
      lines += [f'  {slim} (Keras {keras}): expected {expected}, found {found}'
                for slim, keras, expected, found in shape_mismatches]
    super().__init__('\n'.join(lines))


@dataclasses.dataclass
class SlimRestoreReport:
  """What a restore did, for the training log.

  Attributes:
    checkpoint_path: the checkpoint file prefix read.
    restored: (slim name, Keras variable name) of every assignment.
    skipped_checkpoint: checkpoint names not restored (outside the scope or
      matching an ignore pattern).
    skipped_model: (slim name, Keras name) of model variables left at their
      initial value because their slim name matches an ignore pattern.
    adapted: one line per variable whose value was adapted to its shape.
  """
  checkpoint_path: str
  restored: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
  skipped_checkpoint: List[str] = dataclasses.field(default_factory=list)
  skipped_model: List[Tuple[str, str]] = dataclasses.field(
      default_factory=list)
  adapted: List[str] = dataclasses.field(default_factory=list)

  def summary(self) -> str:
    """One paragraph for the log."""
    lines = [f'Restored {len(self.restored)} variable(s) from slim checkpoint '
             f'{self.checkpoint_path}; skipped {len(self.skipped_checkpoint)} '
             f'checkpoint variable(s); left {len(self.skipped_model)} model '
             'variable(s) at their initial value.']
    lines += [f'  adapted: {line}' for line in self.adapted]
    lines += [f'  not restored: {slim} (Keras {keras})'
              for slim, keras in self.skipped_model]
    return '\n'.join(lines)


def endpoint_ignore_patterns(endpoints: Sequence[str]) -> Tuple[str, ...]:
  """Ignore patterns for every variable of the given endpoints.

  E.g. a tower built up to Mixed_4f loads a full checkpoint with
  `endpoint_ignore_patterns(['MaxPool_5a_2x2', 'Mixed_5b', 'Mixed_5c'])`.
  """
  return tuple(rf'/{re.escape(name)}/' for name in endpoints)


def unowned_endpoint_patterns(models) -> Tuple[str, ...]:
  """Ignore patterns for the S3D-G endpoints none of `models` has.

  E.g. for a tower built up to Mixed_4f: MaxPool_5a_2x2, Mixed_5b and
  Mixed_5c; for a head: every endpoint but Mixed_5b and Mixed_5c. With
  them, a full checkpoint restores any one part of the network.

  Args:
    models: one or more built `S3DG` / `S3DGHead`.
  """
  if not isinstance(models, (list, tuple)):
    models = [models]
  owned = {name.split('/', 1)[0] for model in models
           for name in model.slim_variables()}
  return endpoint_ignore_patterns(
      [e for e in s3dg.ENDPOINTS if e not in owned])


def slim_variable_map(models, scope: str = DEFAULT_SCOPE
                      ) -> Dict[str, List[tf.Variable]]:
  """Full slim name -> the model variables it restores.

  Args:
    models: one or more built `S3DG` / `S3DGHead` (anything with
      `slim_variables()`); several heads map the same Mixed_5b/5c names.
    scope: the network's scope in the checkpoint ('' for none).

  Returns:
    dict full slim name (`scope/...`) -> list of tf.Variable.

  Raises:
    ValueError: a model is not built, or holds variables it cannot name.
  """
  if not isinstance(models, (list, tuple)):
    models = [models]
  prefix = f'{scope}/' if scope else ''
  mapping = {}
  for model in models:
    if not model.built:
      raise ValueError(f'{model.name} is not built: call it on an input of '
                       'the right shape before restoring.')
    names = model.slim_variables()
    named = {id(v) for v in names.values()}
    unnamed = [v.name for v in model.variables if id(v) not in named]
    if unnamed:
      raise ValueError(f'{model.name} has variables with no slim name: '
                       f'{unnamed}.')
    for name, variable in names.items():
      mapping.setdefault(prefix + name, []).append(variable)
  return mapping


def _adapt_first_conv(value: np.ndarray, expected: List[int]) -> np.ndarray:
  """Averages a first-conv kernel over input channels, tiled to `expected`."""
  mean = value.mean(axis=3, keepdims=True)
  return np.repeat(mean, expected[3], axis=3)


def load_slim_s3dg_checkpoint(
    checkpoint_path: str,
    models,
    scope: str = DEFAULT_SCOPE,
    ignore_missing: Sequence[str] = DEFAULT_IGNORE_PATTERNS,
    adapt_input_channels: bool = True) -> SlimRestoreReport:
  """Assigns the slim checkpoint's values to the models' variables.

  Nothing is assigned unless every checkpoint variable under `scope` maps to
  a model variable, every model variable is in the checkpoint, and every
  shape agrees (ignored names excepted).

  Args:
    checkpoint_path: checkpoint file prefix, or a directory (its latest).
    models: one or more built `S3DG` / `S3DGHead`: e.g. a backbone and any
      number of heads, each head taking Mixed_5b/5c from the same names.
    scope: the network's variable scope in the checkpoint.
    ignore_missing: regular expressions (`re.search` on the full slim name);
      a matching checkpoint variable is skipped, a matching model variable
      missing from the checkpoint keeps its initial value.
    adapt_input_channels: if the checkpoint's Conv2d_1a_7x7 kernel has other
      input channels than the model's (a flow tower restored from an RGB
      checkpoint), average it over its input channels and repeat that mean
      for each model channel (as I3D inflates filters); logged.

  Returns:
    A `SlimRestoreReport`.

  Raises:
    ValueError: the checkpoint cannot be found or read, or a model is not
      built.
    SlimCheckpointMismatchError: the checkpoint does not fit; its message
      lists every unmatched, missing and mis-shaped variable.
  """
  path = checkpoint_paths.resolve(checkpoint_path, 'slim checkpoint')
  try:
    reader = tf.train.load_checkpoint(path)
  except (tf.errors.OpError, ValueError) as e:
    raise ValueError(f'Cannot read slim checkpoint {path}: {e}') from e
  shapes = reader.get_variable_to_shape_map()
  mapping = slim_variable_map(models, scope)
  patterns = [re.compile(p) for p in ignore_missing]
  ignored = lambda name: any(p.search(name) for p in patterns)
  prefix = f'{scope}/' if scope else ''
  report = SlimRestoreReport(checkpoint_path=path)

  unmatched = []
  for name in sorted(shapes):
    if name in mapping:
      continue
    if not name.startswith(prefix) or ignored(name):
      report.skipped_checkpoint.append(name)
    else:
      unmatched.append(name)
  unrestored, mismatches, plan = [], [], []
  first_conv = prefix + FIRST_CONV_WEIGHTS
  for name in sorted(mapping):
    for variable in mapping[name]:
      if name not in shapes:
        if ignored(name):
          report.skipped_model.append((name, variable.name))
        else:
          unrestored.append((name, variable.name))
        continue
      expected, found = variable.shape.as_list(), list(shapes[name])
      if expected == found:
        plan.append((name, variable, None))
      elif (adapt_input_channels and name == first_conv and len(found) == 5
            and expected[:3] + expected[4:] == found[:3] + found[4:]):
        plan.append((name, variable, expected))
      else:
        mismatches.append((name, variable.name, expected, found))
  if unmatched or unrestored or mismatches:
    raise SlimCheckpointMismatchError(path, unmatched, unrestored, mismatches)

  for name, variable, adapt_to in plan:
    value = reader.get_tensor(name)
    if adapt_to is not None:
      value = _adapt_first_conv(value, adapt_to)
      line = (f'{name}: {list(value.shape[:3])} kernel averaged over '
              f'{shapes[name][3]} input channels '
              f'and repeated for {adapt_to[3]} (Keras {variable.name})')
      logging.info('Adapted slim variable %s', line)
      report.adapted.append(line)
    variable.assign(tf.cast(value, variable.dtype))
    report.restored.append((name, variable.name))
  logging.info('%s', report.summary())
  return report

