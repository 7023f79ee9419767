"""Warnings about a valid pipeline config that will not train or run well.

`config_validation` refuses impossible configs; these are possible but
likely mistakes, which `train_lib.train` logs before training: batch-norm
statistics that cannot settle in a short training from scratch, a partial
evaluation batch that XLA compiles a second time, and frozen parts that no
warm start restores.
"""

import math

from acrn_tf.protos import pipeline_pb2
from acrn_tf.protos import train_pb2

# Slim's S3D-G kernels start at stddev 0.01, so before batch norm the
# activations of a freshly initialised network have variances around 1e-4;
# the moving statistics start at variance 1. Until the initial value's weight
# decay ** steps has fallen far below 1e-4, inference normalises with a
# variance that is mostly the initial 1 and the signal vanishes layer after
# layer (near-constant features, every actor gets the class priors).
_STALE_STATISTICS_WEIGHT = 1e-6


def stale_batch_norm_warning(config: pipeline_pb2.TrainEvalPipelineConfig
                             ) -> str:
  """A warning when S3D-G's batch-norm statistics cannot settle in training.

  S3D-G trained from scratch (no SLIM_S3DG, FULL or SHARED_PARTS
  fine-tune checkpoint or warm-start source; neither its batch norm nor
  the feature extractor frozen, for which `frozen_from_scratch_warning`
  speaks) keeps ``batch_norm_decay ** num_steps`` of its initial moving
  statistics at the end of training; see `_STALE_STATISTICS_WEIGHT`.

  Returns:
    The warning naming the fields and the largest decay that would do, or
    '' when the statistics settle (or are loaded or frozen).
  """
  model = config.model.video_faster_rcnn
  extractor = model.feature_extractor
  train = config.train_config
  s3dg_types = (train_pb2.TrainConfig.SLIM_S3DG, train_pb2.TrainConfig.FULL,
                train_pb2.TrainConfig.SHARED_PARTS)
  loads_s3dg = (train.fine_tune_checkpoint and
                train.fine_tune_checkpoint_type in s3dg_types) or any(
                    s.type in s3dg_types for s in train.warm_start_source)
  frozen = (train_pb2.TrainConfig.FEATURE_EXTRACTOR in train.frozen_part or
            extractor.use_frozen_batch_norm)
  if loads_s3dg or frozen or train.num_steps < 1:
    return ''
  decay = extractor.batch_norm_decay
  remaining = decay ** train.num_steps
  if remaining <= _STALE_STATISTICS_WEIGHT:
    return ''
  # Rounded down, so that the suggested value is safe.
  largest = math.floor(
      _STALE_STATISTICS_WEIGHT ** (1.0 / train.num_steps) * 1e4) / 1e4
  return (f'model.video_faster_rcnn.feature_extractor.batch_norm_decay '
          f'{decay:g} with train_config.num_steps {train.num_steps} and S3D-G '
          f'trained from scratch: at the end of training the batch-norm '
          f'moving statistics still hold {remaining:.2g} of their initial '
          f'values (variance 1) while the fresh network\'s activations have '
          f'variances near 1e-4, so evaluation sees near-constant features; '
          f'use batch_norm_decay <= {largest:.4f}, train longer, or start '
          f'from a SLIM_S3DG checkpoint')


def partial_eval_batch_warning(config: pipeline_pb2.TrainEvalPipelineConfig
                               ) -> str:
  """A warning when use_xla meets an evaluation batch of another size.

  XLA compiles for fixed shapes: an evaluation whose example limit
  (eval_config.num_examples) is not a multiple of eval_config.batch_size
  ends on a partial batch, which XLA compiles again (and a TPU cannot run).

  Returns:
    The warning naming the fields, or '' (no XLA, no limit, or full
    batches).
  """
  if not config.model.video_faster_rcnn.use_xla:
    return ''
  num = config.eval_config.num_examples
  batch_size = max(config.eval_config.batch_size, 1)
  if num <= 0 or num % batch_size == 0:
    return ''
  return (f'model.video_faster_rcnn.use_xla with eval_config.num_examples '
          f'{num} not a multiple of eval_config.batch_size {batch_size}: '
          f'the last evaluation batch holds {num % batch_size} examples and '
          f'XLA compiles the evaluation step a second time for it (a TPU '
          f'needs full batches); use num_examples '
          f'{num - num % batch_size} or {num - num % batch_size + batch_size}')


def _restored_parts(source_type, slim_parts):
  """The FrozenPart names a warm start of this type restores in full."""
  types = train_pb2.TrainConfig
  if source_type in (types.FULL, types.SHARED_PARTS):
    return {'FEATURE_EXTRACTOR', 'ACTOR_DETECTOR', 'ACTOR_HEAD'}
  if source_type == types.SLIM_S3DG:
    part = types.WarmStartSource.Part
    restored = set()
    if not slim_parts or {part.RGB_TOWER, part.FLOW_TOWER} & set(slim_parts):
      restored.add('FEATURE_EXTRACTOR')
    if not slim_parts or part.ACTOR_HEAD in slim_parts:
      restored.add('ACTOR_HEAD')
    return restored
  return set()  # RESNET restores the backbone only, not the RPN


def frozen_from_scratch_warning(config: pipeline_pb2.TrainEvalPipelineConfig
                                ) -> str:
  """A warning when a frozen part is restored by no warm start.

  A part in `train_config.frozen_part` never trains, so unless a warm start
  (FULL, SHARED_PARTS, or SLIM_S3DG for the towers and the actor head)
  restores it, it keeps its random initial values for the whole training.

  Returns:
    The warning naming the parts and the fields, or ''.
  """
  train = config.train_config
  restored = set()
  if train.fine_tune_checkpoint:
    restored |= _restored_parts(train.fine_tune_checkpoint_type, [])
  for source in train.warm_start_source:
    restored |= _restored_parts(source.type, source.part)
  frozen = train_pb2.TrainConfig.FrozenPart
  missing = [frozen.Name(p) for p in train.frozen_part
             if frozen.Name(p) not in restored]
  if not missing:
    return ''
  return (f'train_config.frozen_part {", ".join(missing)}: no '
          f'fine_tune_checkpoint or warm_start_source restores '
          f'{"it" if len(missing) == 1 else "them"}, so '
          f'{"it keeps its" if len(missing) == 1 else "they keep their"} '
          f'random initial values for the whole training; warm-start from '
          f'a FULL or SHARED_PARTS checkpoint (or SLIM_S3DG for the S3D-G '
          f'towers and the actor head), or do not freeze')
