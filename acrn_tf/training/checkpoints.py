"""Training checkpoints and warm starts from public checkpoints.

A training checkpoint holds the model, the optimizer (its slots and step)
and the input iterator's position, so a restarted job continues where the
last checkpoint left it. A warm start (`fine_tune_checkpoint`) restores only
weights, by type: the public slim S3D-G checkpoints (by slim variable name,
`models.slim_s3dg_checkpoint`), a Model Garden ResNet checkpoint (its
`backbone` object, as Model Garden's own tasks save it), a full acrn_tf
checkpoint (the model only) or the parts every acrn_tf model shares, from a
checkpoint of a model with another relation module (SHARED_PARTS: the
accuracy benchmark pretrains them once for all its models, as the paper
starts every model from one pretrained S3D-G and person detector). What was restored and what was not is logged.
"""

import dataclasses
from typing import List

from absl import logging
import tensorflow as tf

from acrn_tf.core import checkpoint_paths
from acrn_tf.models import slim_s3dg_checkpoint
from acrn_tf.protos import train_pb2


@dataclasses.dataclass
class WarmStartReport:
  """What a warm start restored.

  Attributes:
    kind: the checkpoint type's name.
    path: the checkpoint file prefix read.
    restored: names of the model parts or variables restored.
    not_restored: names of model variables left at their initial values.
  """
  kind: str
  path: str
  restored: List[str]
  not_restored: List[str]


def resolve(path: str) -> str:
  """A checkpoint prefix from a prefix or a directory (its latest).

  Raises:
    ValueError: nothing readable is there.
  """
  return checkpoint_paths.resolve(path, 'fine_tune_checkpoint')


def _names(variables) -> List[str]:
  return sorted(v.name for v in variables)


def _read_objects(path: str, kind: str, expected: str, **objects) -> None:
  """Restores `objects` (checkpoint children by name) from `path`.

  Raises:
    ValueError: a variable of `objects` has no value in the checkpoint or
      another shape. TensorFlow's own AssertionError prints every variable
      of the model; this names the field, the type and what was expected,
      with the first line of TensorFlow's message.
  """
  try:
    status = tf.train.Checkpoint(**objects).read(path)
    status.expect_partial().assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    lines = str(e).strip().splitlines()
    detail = f' ({lines[0][:200]})' if lines else ''
    raise ValueError(
        f'train_config.fine_tune_checkpoint {path} does not fit '
        f'fine_tune_checkpoint_type {kind}: expected {expected}{detail}'
    ) from None


def warm_start(model, train_config: train_pb2.TrainConfig) -> WarmStartReport:
  """Restores `train_config.fine_tune_checkpoint` into a built model.

  Args:
    model: a built `VideoFasterRCNN` (call it once first).
    train_config: `fine_tune_checkpoint` and `fine_tune_checkpoint_type`.

  Returns:
    A `WarmStartReport` (also logged).

  Raises:
    ValueError: the checkpoint is missing, unreadable or does not fit.
  """
  kind = train_pb2.TrainConfig.FineTuneCheckpointType.Name(
      train_config.fine_tune_checkpoint_type)
  path = resolve(train_config.fine_tune_checkpoint)
  all_variables = model.variables
  if kind == 'SLIM_S3DG':
    # One call for the RGB tower and every Mixed_5b/5c copy (the action
    # head's and the relation head's), which read the same slim names; the
    # flow tower separately (its first conv adapted from RGB if needed).
    towers = model.feature_extractor.towers
    parts = [towers['rgb']] if 'rgb' in towers else []
    parts.append(model.actor_head.head)
    relation_head = getattr(getattr(model, 'relation_module', None),
                            'relation_head', None)
    if relation_head is not None:
      parts.append(relation_head)
    report = [slim_s3dg_checkpoint.load_slim_s3dg_checkpoint(path, parts)]
    if 'flow' in towers:
      report.append(model.feature_extractor.restore_from_slim(
          flow_checkpoint=path))
      parts.append(towers['flow'])
    restored_vars = [v for part in parts for v in part.variables]
  elif kind == 'RESNET':
    backbone = model.actor_detector.backbone
    _read_objects(path, kind, 'a Model Garden ResNet saved as `backbone` (as '
                  'its tasks save it) of the actor detector\'s model_id and '
                  'depth_multiplier', backbone=backbone)
    restored_vars = backbone.variables
    report = None
  elif kind == 'FULL':
    _read_objects(path, kind, 'an acrn_tf training checkpoint of a model '
                  'with this config', model=model)
    restored_vars = all_variables
    report = None
  elif kind == 'SHARED_PARTS':
    parts = {'feature_extractor': model.feature_extractor,
             'actor_detector': model.actor_detector,
             'actor_head': model.actor_head}
    _read_objects(path, kind, 'an acrn_tf training checkpoint whose '
                  'feature extractor, actor detector and actor head have '
                  'this config\'s shapes', model=tf.train.Checkpoint(**parts))
    restored_vars = [v for part in parts.values() for v in part.variables]
    report = None
  else:
    raise ValueError(f'train_config.fine_tune_checkpoint_type: unknown type '
                     f'{kind}')
  restored_ids = {id(v) for v in restored_vars}
  result = WarmStartReport(
      kind=kind, path=path, restored=_names(restored_vars),
      not_restored=_names(v for v in all_variables
                          if id(v) not in restored_ids))
  logging.info('Warm start from %s (%s): %d variables restored, %d not '
               'restored (initial values kept)%s', path, kind,
               len(result.restored), len(result.not_restored),
               f'; slim report: {report}' if report is not None else '')
  for name in result.not_restored:
    logging.info('  not restored: %s', name)
  return result
