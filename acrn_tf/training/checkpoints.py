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
starts every model from one pretrained S3D-G and person detector; a
temporal flattening kernel trained on another clip length is resampled to
this one's, and the flattening of a scene map the checkpointed model did not
have starts from its initial values). What was restored and what was not is
logged.
"""

import dataclasses
from typing import Dict, List, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from acrn_tf.core import checkpoint_paths
from acrn_tf.models import slim_s3dg_checkpoint
from acrn_tf.models import video_feature_extractor
from acrn_tf.protos import train_pb2

# Where a TF2 checkpoint keeps its object graph (tf.train.Checkpoint's key).
_OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'


@dataclasses.dataclass
class WarmStartReport:
  """What a warm start restored.

  Attributes:
    kind: the checkpoint type's name.
    path: the checkpoint file prefix read.
    restored: names of the model parts or variables restored.
    not_restored: names of model variables left at their initial values.
    resampled: names of restored temporal flattening kernels resampled to
      this model's clip length (SHARED_PARTS).
    new_scene_layers: names of the variables of scene-map flattening (and
      fusion) layers the checkpoint has none of, left at their initial
      values (SHARED_PARTS; also in not_restored).
  """
  kind: str
  path: str
  restored: List[str]
  not_restored: List[str]
  resampled: List[str] = dataclasses.field(default_factory=list)
  new_scene_layers: List[str] = dataclasses.field(default_factory=list)


class IntervalCheckpointManager(tf.train.CheckpointManager):
  """A CheckpointManager whose interval checkpoints fall on its multiples.

  `tf.train.CheckpointManager` counts its interval from its first save,
  which orbit's Controller asks for after the first loop: with 10-step loops
  and checkpoint_every_n 200, checkpoints fell at steps 10, 210, 410. This
  one saves, when asked with the interval check, only once the step has
  reached a multiple of the interval it has not saved at (200, 400, ...);
  without the check (the end of training) it saves as the base class does.
  """

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    latest = self.latest_checkpoint
    # A resumed job continues from its last checkpoint's multiple.
    self._saved_multiple = (step_from_name(latest) // self._interval()
                            if latest and self._interval() else 0)

  def _interval(self):
    return self.checkpoint_interval or 0

  def save(self, checkpoint_number=None, check_interval=True, options=None):
    """Saves at a new multiple of the interval (see the class docstring)."""
    step = int(checkpoint_number if checkpoint_number is not None else
               self._step_counter.numpy())
    interval = self._interval()
    if check_interval and interval:
      if step // interval <= self._saved_multiple:
        return None
    path = super().save(checkpoint_number=checkpoint_number,
                        check_interval=False, options=options)
    if path is not None and interval:
      self._saved_multiple = step // interval
    return path


def step_from_name(path: str) -> int:
  """N of a `.../ckpt-N` prefix (0 when it has none)."""
  suffix = path.rsplit('-', 1)[-1]
  return int(suffix) if suffix.isdigit() else 0


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


def resample_temporal_kernel(kernel: np.ndarray,
                              num_frames: int) -> np.ndarray:
  """A [t, ...] temporal flattening kernel resampled to num_frames taps.

  Each new tap is the sum of the old taps over the stretch of time it
  covers, weighted by overlap (area resampling), so the taps' sum is kept
  and a clip that is the same in every frame gives the same output. From 2
  taps to 1 it is their sum; from 2 to 4 each old tap is halved into two.
  """
  kernel = np.asarray(kernel)
  old = kernel.shape[0]
  if num_frames < 1:
    raise ValueError(f'num_frames must be >= 1, got {num_frames}')
  edges = np.arange(num_frames + 1) * old / num_frames
  starts, ends = edges[:-1, None], edges[1:, None]
  taps = np.arange(old)[None, :]
  overlap = np.clip(np.minimum(ends, taps + 1) - np.maximum(starts, taps),
                    0, None)
  return np.tensordot(overlap, kernel, axes=1).astype(kernel.dtype)


def _read_shared_parts(path: str, parts: Dict[str, tf.Module]
                       ) -> Tuple[List[str], List[tf.Variable]]:
  """Restores `parts` (model children by name) from `path`'s `model`.

  Written out rather than `tf.train.Checkpoint.read`, which refuses any
  shape change: a temporal flattening kernel ([t, 1, 1, c, c]) trained on
  another clip length is resampled (`resample_temporal_kernel`); every other
  variable must match in shape. The feature extractor's layers of scene
  maps other than F (table 1c: e.g. Conv2d_2c_3x3 for a model pretrained as
  a Base-Model) may be missing as a whole: they keep their initial values
  (a temporal average, an average of the streams). A layer of which only
  some variables are there is refused.

  Returns:
    Names of the resampled kernels, and the variables left at their initial
    values.

  Raises:
    ValueError: a variable has no value in the checkpoint or another shape.
  """
  kind = 'SHARED_PARTS'

  def refuse(detail):
    raise ValueError(
        f'train_config.fine_tune_checkpoint {path} does not fit '
        f'fine_tune_checkpoint_type {kind}: expected an acrn_tf training '
        'checkpoint whose feature extractor, actor detector and actor head '
        f'have this config\'s shapes ({detail})')

  target = tf.train.Checkpoint(model=tf.train.Checkpoint(**parts))
  try:
    reader = tf.train.load_checkpoint(path)
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(_OBJECT_GRAPH_KEY))
    matches = tf.train.CheckpointView(path).match(target)
  except (ValueError, tf.errors.OpError) as e:
    refuse(f'not a TF2 object-based checkpoint: {str(e).splitlines()[0]}')
  keys = {}
  for node_id, trackable in matches.items():
    attributes = graph.nodes[node_id].attributes
    if isinstance(trackable, tf.Variable) and attributes:
      keys[id(trackable)] = attributes[0].checkpoint_key
  flattening_kernels = {
      id(layer.kernel) for layer in parts['feature_extractor'].submodules
      if isinstance(layer, video_feature_extractor.TemporalFlattening)}
  new_layers = [layer for layer in
                parts['feature_extractor'].scene_only_layers()
                if not any(id(v) in keys for v in layer.variables)]
  new = {id(v): v for layer in new_layers for v in layer.variables}
  values, resampled = [], []
  for variable in (v for part in parts.values() for v in part.variables):
    if id(variable) in new:
      continue
    if id(variable) not in keys:
      refuse(f'no value for {variable.name}')
    value = reader.get_tensor(keys[id(variable)])
    shape = tuple(variable.shape)
    if value.shape != shape:
      if not (id(variable) in flattening_kernels and
              value.shape[1:] == shape[1:]):
        refuse(f'{variable.name} is {list(value.shape)} in the checkpoint, '
               f'{list(shape)} here')
      value = resample_temporal_kernel(value, shape[0])
      resampled.append(variable.name)
    values.append((variable, value))
  # Only once every value is read and fits: nothing is restored half.
  for variable, value in values:
    variable.assign(value)
  return resampled, list(new.values())


def _copy_actor_head_to_relation_head(model) -> List[tf.Variable]:
  """Assigns the actor head's Mixed_5b/5c to ACRN's relation head.

  Returns:
    The relation head's variables.

  Raises:
    ValueError: the model has no relation head, or the heads differ in
      shape (relation_channels other than F's channels).
  """
  field = 'train_config.relation_head_from_actor_head'
  relation_head = getattr(getattr(model, 'relation_module', None),
                          'relation_head', None)
  if relation_head is None:
    raise ValueError(f'{field}: the model has no relation head (only the '
                     'acrn relation module has one)')
  mine, theirs = relation_head.variables, model.actor_head.head.variables
  names = [v.name.split('/', 1)[-1] for v in theirs]
  if len(mine) != len(theirs):
    raise ValueError(f'{field}: the relation head has {len(mine)} variables, '
                     f'the actor head {len(theirs)}')
  for variable, value, name in zip(mine, theirs, names):
    if variable.shape != value.shape:
      raise ValueError(
          f'{field}: {variable.name} is {variable.shape.as_list()}, the actor '
          f'head\'s {name} {value.shape.as_list()}: relation_channels must '
          'be the channels of F')
  for variable, value in zip(mine, theirs):
    variable.assign(value)
  return list(mine)


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
  resampled, new_vars = [], []
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
    resampled, new_vars = _read_shared_parts(path, parts)
    new_ids = {id(v) for v in new_vars}
    restored_vars = [v for part in parts.values() for v in part.variables
                     if id(v) not in new_ids]
    if train_config.relation_head_from_actor_head:
      restored_vars += _copy_actor_head_to_relation_head(model)
    report = None
  else:
    raise ValueError(f'train_config.fine_tune_checkpoint_type: unknown type '
                     f'{kind}')
  restored_ids = {id(v) for v in restored_vars}
  result = WarmStartReport(
      kind=kind, path=path, restored=_names(restored_vars),
      not_restored=_names(v for v in all_variables
                          if id(v) not in restored_ids),
      resampled=sorted(resampled), new_scene_layers=_names(new_vars))
  logging.info('Warm start from %s (%s): %d variables restored, %d not '
               'restored (initial values kept)%s', path, kind,
               len(result.restored), len(result.not_restored),
               f'; slim report: {report}' if report is not None else '')
  for name in result.resampled:
    logging.info('  resampled to this clip length: %s', name)
  for name in result.new_scene_layers:
    logging.info('  a scene map the checkpoint has not (initial values): %s',
                 name)
  for name in result.not_restored:
    logging.info('  not restored: %s', name)
  return result
