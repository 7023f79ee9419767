"""Training checkpoints and warm starts from public checkpoints.

A training checkpoint holds the model, the optimizer (its slots and step)
and the input iterator's position, so a restarted job continues where the
last checkpoint left it. A warm start restores only weights, from one
`fine_tune_checkpoint` (the OD API's form) or from several
`warm_start_source`s (the paper's: an RGB and a flow slim S3D-G checkpoint
and a ResNet-50), each by type: the public slim S3D-G checkpoints (by slim
variable name, `models.slim_s3dg_checkpoint`, into the parts chosen), a
Model Garden ResNet checkpoint (its `backbone` object, as Model Garden's own
tasks save it), a full acrn_tf checkpoint (the model only) or the parts
every acrn_tf model shares, from a checkpoint of a model with another
relation module (SHARED_PARTS: the accuracy benchmark pretrains them once
for all its models, as the paper starts every model from one pretrained
S3D-G and person detector; a temporal flattening kernel trained on another
clip length is resampled to this one's, and the flattening of a scene map
the checkpointed model did not have starts from its initial values). The
model says what each type restores (`restore_from_objects`). Each source's
report (logged) says what it restored, what it skipped and why; a source
that restores nothing, or a variable two sources would both restore, is an
error naming the source.
"""

import dataclasses
import re
from typing import Any, Dict, List, Tuple

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
class SourceReport:
  """What one warm-start source restored and skipped.

  Attributes:
    source: the config field of the source, e.g.
      'train_config.warm_start_source[1]' or
      'train_config.fine_tune_checkpoint'.
    kind: the checkpoint type's name.
    path: the checkpoint file prefix read.
    parts: the model parts it restored (`restore_from_objects` names).
    restored: names of the model variables it restored.
    skipped: one line per variable it did not restore and why: checkpoint
      variables no restored part reads (SLIM_S3DG), variables of its parts
      left at their initial values.
    resampled: names of restored temporal flattening kernels resampled to
      this model's clip length (SHARED_PARTS).
    new_scene_layers: names of the variables of scene-map flattening (and
      fusion) layers the checkpoint has none of, left at their initial
      values (SHARED_PARTS; also in `skipped`).
  """
  source: str
  kind: str
  path: str
  parts: List[str]
  restored: List[str]
  skipped: List[str] = dataclasses.field(default_factory=list)
  resampled: List[str] = dataclasses.field(default_factory=list)
  new_scene_layers: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class WarmStartReport:
  """What a warm start restored, over all its sources.

  Attributes:
    sources: a `SourceReport` per source, in the order restored.
    restored: names of the model variables restored by some source (or
      copied by relation_head_from_actor_head).
    not_restored: names of the model variables left at their initial
      values.
  """
  sources: List[SourceReport]
  restored: List[str]
  not_restored: List[str]


@dataclasses.dataclass
class _Source:
  """A warm-start source and how errors name it."""
  field: str  # e.g. 'train_config.warm_start_source[1]'
  path_field: str  # the field holding the path
  type_field: str  # the field holding the type
  config: train_pb2.TrainConfig.WarmStartSource

  @property
  def kind(self) -> str:
    return train_pb2.TrainConfig.FineTuneCheckpointType.Name(
        self.config.type)


def _sources(train_config: train_pb2.TrainConfig) -> List[_Source]:
  """The warm-start sources, in the order restored.

  `fine_tune_checkpoint` with its type is one source (no parts, no scope);
  else each `warm_start_source`. Empty: no warm start.
  """
  if train_config.fine_tune_checkpoint:
    config = train_pb2.TrainConfig.WarmStartSource(
        checkpoint=train_config.fine_tune_checkpoint,
        type=train_config.fine_tune_checkpoint_type)
    return [_Source('train_config.fine_tune_checkpoint',
                    'train_config.fine_tune_checkpoint',
                    'fine_tune_checkpoint_type', config)]
  sources = []
  for i, config in enumerate(train_config.warm_start_source):
    field = f'train_config.warm_start_source[{i}]'
    sources.append(_Source(field, f'{field}.checkpoint', 'type', config))
  return sources


def _names(variables) -> List[str]:
  return sorted(v.name for v in variables)


def _does_not_fit(source: _Source, path: str, expected: str) -> str:
  """The start of the error of a checkpoint that does not fit its type."""
  return (f'{source.path_field} {path} does not fit {source.type_field} '
          f'{source.kind}: expected {expected}')


def _read_objects(source: _Source, path: str, expected: str,
                  objects: Dict[str, Any]) -> None:
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
    raise ValueError(_does_not_fit(source, path, expected) + detail
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


def _read_shared_parts(source: _Source, path: str,
                       parts: Dict[str, tf.Module]
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
  def refuse(detail):
    raise ValueError(_does_not_fit(
        source, path, 'an acrn_tf training checkpoint whose feature '
        'extractor, actor detector and actor head have this config\'s '
        f'shapes ({detail})'))

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
  heads = model.restore_from_objects('SLIM_S3DG')
  if 'relation_head' not in heads:
    raise ValueError(f'{field}: the model has no relation head (only the '
                     'acrn relation module has one)')
  mine = heads['relation_head'].variables
  theirs = heads['actor_head'].variables
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


def _selected_objects(model, source: _Source) -> Dict[str, Any]:
  """The model parts `source` restores, by `restore_from_objects` name.

  Raises:
    ValueError: a part the source names is one the model has not.
  """
  objects = model.restore_from_objects(source.kind)
  parts = [train_pb2.TrainConfig.WarmStartSource.Part.Name(p).lower()
           for p in source.config.part]
  if not parts:
    return objects
  missing = [p for p in parts if p not in objects]
  if missing:
    raise ValueError(
        f'{source.field} ({source.config.checkpoint}, {source.kind}) would '
        f'restore nothing into {", ".join(m.upper() for m in missing)}: the '
        f'model has no such part (it has {", ".join(sorted(objects))})')
  return {p: objects[p] for p in parts}


def _slim_skip_reason(name: str, prefix: str) -> str:
  """Why a slim checkpoint variable that no part read was skipped."""
  if not name.startswith(prefix):
    return f'outside the scope {prefix.rstrip("/")!r}'
  if re.search(r'/Logits/', name):
    return 'the checkpoint\'s classifier (Logits), which no model part has'
  for pattern in slim_s3dg_checkpoint.DEFAULT_IGNORE_PATTERNS:
    if re.search(pattern, name):
      return 'an optimizer or moving-average slot'
  endpoint = name[len(prefix):].split('/', 1)[0]
  return f'{endpoint}: no part restored from this source has it'


def _restore_slim(source: _Source, path: str, objects: Dict[str, Any]
                  ) -> List[str]:
  """Restores each S3D-G part from a slim checkpoint; returns skip lines.

  Each part reads the endpoints it has (a tower those up to its last, a
  head Mixed_5b/5c) and skips the others, so one checkpoint restores any
  choice of parts. The parts are checked one after another: a part that
  does not fit stops the warm start with the slim mismatch error.
  """
  scope = source.config.scope or slim_s3dg_checkpoint.DEFAULT_SCOPE
  read, skipped = set(), []
  for name, part in objects.items():
    try:
      report = slim_s3dg_checkpoint.load_slim_s3dg_checkpoint(
          path, part, scope=scope,
          ignore_missing=slim_s3dg_checkpoint.DEFAULT_IGNORE_PATTERNS +
          slim_s3dg_checkpoint.unowned_endpoint_patterns(part))
    except ValueError as e:
      raise ValueError(f'{source.field} ({path}, {source.kind}), part '
                       f'{name.upper()}: {e}') from None
    read.update(slim for slim, _ in report.restored)
    skipped += [f'{keras}: not in the checkpoint (slim {slim}), initial '
                'value kept' for slim, keras in report.skipped_model]
    skipped += [f'(adapted) {line}' for line in report.adapted]
  prefix = f'{scope}/'
  names = tf.train.load_checkpoint(path).get_variable_to_shape_map()
  skipped += [f'{name}: {_slim_skip_reason(name, prefix)}'
              for name in sorted(names) if name not in read]
  return skipped


def _restore_source(model, source: _Source, objects: Dict[str, Any],
                    path: str, relation_head_from_actor_head: bool
                    ) -> Tuple[SourceReport, List[tf.Variable]]:
  """Restores one source's objects from `path`.

  Returns:
    Its report and the variables it restored.
  """
  kind = source.kind
  skipped, resampled, new_vars = [], [], []
  if kind == 'SLIM_S3DG':
    skipped = _restore_slim(source, path, objects)
  elif kind == 'RESNET':
    # 'model/backbone' -> Checkpoint(model=Checkpoint(backbone=...)).
    scope = source.config.scope or 'backbone'
    names = scope.split('/')
    target = objects['backbone']
    for child in reversed(names[1:]):
      target = tf.train.Checkpoint(**{child: target})
    _read_objects(source, path, f'a Model Garden ResNet saved as `{scope}` '
                  '(as its tasks save it) of the actor detector\'s model_id '
                  'and depth_multiplier', {names[0]: target})
  elif kind == 'FULL':
    _read_objects(source, path, 'an acrn_tf training checkpoint of a model '
                  'with this config', objects)
  elif kind == 'SHARED_PARTS':
    resampled, new_vars = _read_shared_parts(source, path, objects)
    skipped = [f'{v.name}: a scene map the checkpoint has not, initial value '
               'kept' for v in new_vars]
  else:
    raise ValueError(f'{source.field}: unknown checkpoint type {kind}')
  new_ids = {id(v) for v in new_vars}
  restored = [v for part in objects.values() for v in part.variables
              if id(v) not in new_ids]
  parts = list(objects)
  if kind == 'SHARED_PARTS' and relation_head_from_actor_head:
    restored += _copy_actor_head_to_relation_head(model)
    parts.append('relation_head (copied from actor_head)')
  if not restored:
    raise ValueError(f'{source.field} ({path}, {kind}) restored nothing: '
                     f'its parts {", ".join(parts)} have no variables (call '
                     'the model once before warm-starting it)')
  return SourceReport(
      source=source.field, kind=kind, path=path, parts=parts,
      restored=_names(restored), skipped=skipped,
      resampled=sorted(resampled),
      new_scene_layers=_names(new_vars)), restored


def _log(report: SourceReport, objects: Dict[str, Any]) -> None:
  parts = ', '.join(f'{name} ({len(part.variables)})'
                    for name, part in objects.items())
  logging.info('Warm start %s from %s (%s): restored %d variables of %s; '
               'skipped %d.', report.source, report.path, report.kind,
               len(report.restored), parts, len(report.skipped))
  for name in report.resampled:
    logging.info('  resampled to this clip length: %s', name)
  for line in report.skipped:
    logging.info('  skipped %s', line)


def warm_start(model, train_config: train_pb2.TrainConfig) -> WarmStartReport:
  """Restores the warm-start sources of `train_config` into a built model.

  Args:
    model: a built `VideoFasterRCNN` (call it once first).
    train_config: `fine_tune_checkpoint` and `fine_tune_checkpoint_type`,
      or `warm_start_source`s; `relation_head_from_actor_head`.

  Returns:
    A `WarmStartReport` (also logged, source by source).

  Raises:
    ValueError: a checkpoint is missing, unreadable or does not fit; a
      source restores nothing; two sources would restore the same variable.
      Each names its source. Every path is resolved and every overlap
      checked before any variable is assigned.
  """
  plan, owner = [], {}
  for source in _sources(train_config):
    path = checkpoint_paths.resolve(source.config.checkpoint,
                                    source.path_field)
    objects = _selected_objects(model, source)
    for variable in (v for part in objects.values() for v in part.variables):
      if id(variable) in owner and owner[id(variable)] != source.field:
        raise ValueError(
            f'{source.field} ({path}, {source.kind}) and '
            f'{owner[id(variable)]} would both restore {variable.name}: '
            'give each part one source')
      owner[id(variable)] = source.field
    plan.append((source, objects, path))
  reports, restored = [], []
  for source, objects, path in plan:
    report, variables = _restore_source(
        model, source, objects, path,
        train_config.relation_head_from_actor_head)
    _log(report, objects)
    reports.append(report)
    restored += variables
  restored_ids = {id(v) for v in restored}
  result = WarmStartReport(
      sources=reports, restored=_names(restored),
      not_restored=_names(v for v in model.variables
                          if id(v) not in restored_ids))
  logging.info('Warm start: %d variables restored from %d source(s), %d '
               'not restored (initial values kept).', len(result.restored),
               len(reports), len(result.not_restored))
  for name in result.not_restored:
    logging.info('  not restored: %s', name)
  return result
