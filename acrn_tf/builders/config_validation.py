"""Checks a TrainEvalPipelineConfig for impossible values.

Parsing already refuses unknown fields and wrong types; this module refuses
values that parse but cannot work: negative steps, a clip of no frames, a
relation module asking for a feature map the backbone does not produce, a
flow stream without flow in the input, and so on. Each error names the field
by its path in the config, e.g.
``model.video_faster_rcnn.action_head.num_classes``.
"""

from acrn_tf.builders import optimizer_builder
from acrn_tf.models import s3dg
from acrn_tf.protos import pipeline_pb2
from acrn_tf.protos import s3dg_pb2
from acrn_tf.protos import train_pb2

# The relation modules with a g_theta (`relation_module_oneof` fields),
# the ones `actor_feature_in_g_theta` applies to.
G_THETA_MODULES = ('santoro', 'acrn')

S3DG_ENDPOINTS = s3dg.ENDPOINTS
# Blocks where separable temporal convolutions and gating may start.
S3DG_SWITCHABLE_BLOCKS = s3dg.STARTAT_ENDPOINTS
# The action head runs Mixed_5b/5c on crops of F, so F comes from at most
# Mixed_4f.
_FEATURE_ENDPOINTS = S3DG_ENDPOINTS[:S3DG_ENDPOINTS.index('Mixed_4f') + 1]
RESNET_MODEL_IDS = (10, 18, 26, 34, 50, 101, 152, 200)


# The input reader fields that define a clip: frames_per_clip frames every
# frame_stride video frames. Training, evaluation, export and inference all
# read them from the pipeline config; see `check_same_clip`.
CLIP_FIELDS = ('frames_per_clip', 'frame_stride')


class ConfigError(ValueError):
  """A pipeline config that cannot be parsed or cannot work."""


def check_same_clip(config: pipeline_pb2.TrainEvalPipelineConfig,
                    source: str,
                    trained: pipeline_pb2.TrainEvalPipelineConfig,
                    trained_source: str) -> None:
  """Refuses a config whose clip differs from the one a model was trained on.

  Args:
    config: the config given to an evaluation, export or inference.
    source: its file.
    trained: the config the training job saved beside its checkpoints.
    trained_source: that file.

  Raises:
    ConfigError: naming both files, the field and both values.
  """
  readers = [('train_input_reader', config.train_input_reader)]
  readers += [(f'eval_input_reader[{i}]', r)
              for i, r in enumerate(config.eval_input_reader)]
  for path, reader in readers:
    if not reader.ByteSize():
      continue
    for field in CLIP_FIELDS:
      mine = getattr(reader, field)
      theirs = getattr(trained.train_input_reader, field)
      if mine != theirs:
        raise ConfigError(
            f'{source}: {path}.{field} is {mine} but the model was trained '
            f'with train_input_reader.{field} {theirs} ({trained_source}): '
            'a clip is frames_per_clip frames every frame_stride video '
            'frames, the same in training, evaluation, export and '
            'inference; use the training config\'s values')


class _Checker:
  """Collects the source name so every check can phrase its error."""

  def __init__(self, source):
    self.source = source

  def fail(self, path, problem):
    raise ConfigError(f'{self.source}: {path}: {problem}')

  def at_least(self, path, value, minimum):
    if value < minimum:
      self.fail(path, f'must be >= {minimum}, got {value}')

  def positive(self, path, value):
    if not value > 0:
      self.fail(path, f'must be > 0, got {value}')

  def fraction(self, path, value, allow_zero=True):
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 1):
      bounds = '[0, 1]' if allow_zero else '(0, 1]'
      self.fail(path, f'must be in {bounds}, got {value}')

  def required(self, message, field, path):
    if not message.HasField(field):
      self.fail(f'{path}.{field}' if path else field, 'is required')


def validate_pipeline(config: pipeline_pb2.TrainEvalPipelineConfig,
                      source: str = 'pipeline config') -> None:
  """Raises ConfigError naming the first impossible field of `config`."""
  check = _Checker(source)
  check.required(config, 'model', '')
  if config.model.WhichOneof('model') != 'video_faster_rcnn':
    check.fail('model', 'must set video_faster_rcnn')
  model = config.model.video_faster_rcnn
  path = 'model.video_faster_rcnn'
  _validate_feature_extractor(check, model.feature_extractor,
                              f'{path}.feature_extractor')
  _validate_actor_detector(check, model.actor_detector,
                           f'{path}.actor_detector')
  check.required(model, 'action_head', path)
  _validate_action_head(check, model.action_head, f'{path}.action_head')
  _validate_relation(check, model.relation_module, model.feature_extractor,
                     f'{path}.relation_module')
  check.required(config, 'train_config', '')
  _validate_train(check, config.train_config, 'train_config', model)
  if model.use_xla and config.train_config.deterministic:
    # enable_op_determinism makes XLA refuse the ResNet's MaxPool gradient.
    check.fail('train_config.deterministic',
               'cannot be true with model.video_faster_rcnn.use_xla: '
               'TensorFlow\'s op determinism has no deterministic XLA '
               'MaxPool gradient (the keyframe ResNet\'s), so the step '
               'would not compile; an XLA step is reproducible from its '
               'seeds without it')
  check.required(config, 'train_input_reader', '')
  _validate_input_reader(check, config.train_input_reader,
                         'train_input_reader', model)
  for i, reader in enumerate(config.eval_input_reader):
    reader_path = f'eval_input_reader[{i}]'
    _validate_input_reader(check, reader, reader_path, model)
    train = config.train_input_reader
    # F is flattened by a t x 1 x 1 convolution whose t follows the clip
    # length, and the model learns motion over the clip's time span, so
    # training and evaluation clips must be the same (the exporter and
    # inference take the eval reader's).
    for field in CLIP_FIELDS:
      if getattr(reader, field) != getattr(train, field):
        check.fail(f'{reader_path}.{field}',
                   f'must equal train_input_reader.{field} '
                   f'({getattr(train, field)}), got {getattr(reader, field)}')
  _validate_eval(check, config.eval_config, 'eval_config')


def _validate_feature_extractor(check, extractor, path):
  check.positive(f'{path}.depth_multiplier', extractor.depth_multiplier)
  check.at_least(f'{path}.min_depth', extractor.min_depth, 1)
  if extractor.first_temporal_kernel_size not in (1, 3, 5, 7):
    check.fail(f'{path}.first_temporal_kernel_size',
               f'must be 1, 3, 5 or 7, got '
               f'{extractor.first_temporal_kernel_size}')
  for field in ('temporal_conv_startat', 'gating_startat'):
    value = getattr(extractor, field)
    if value not in S3DG_SWITCHABLE_BLOCKS:
      check.fail(f'{path}.{field}', f'must be one of '
                 f'{", ".join(S3DG_SWITCHABLE_BLOCKS)}, got {value!r}')
  if extractor.feature_endpoint not in _FEATURE_ENDPOINTS:
    check.fail(f'{path}.feature_endpoint', f'must be an S3D-G endpoint up '
               f'to Mixed_4f, got {extractor.feature_endpoint!r}')
  if extractor.streams == s3dg_pb2.S3dgFeatureExtractor.RGB_AND_FLOW:
    if extractor.fusion_endpoint not in _FEATURE_ENDPOINTS:
      check.fail(f'{path}.fusion_endpoint', f'must be an S3D-G endpoint up '
                 f'to Mixed_4f, got {extractor.fusion_endpoint!r}')
    if (_FEATURE_ENDPOINTS.index(extractor.fusion_endpoint) >
        _FEATURE_ENDPOINTS.index(extractor.feature_endpoint)):
      check.fail(f'{path}.fusion_endpoint',
                 f'{extractor.fusion_endpoint} comes after the '
                 f'feature_endpoint {extractor.feature_endpoint}: the '
                 'streams must be fused before F is taken')
  check.fraction(f'{path}.batch_norm_decay', extractor.batch_norm_decay)
  check.positive(f'{path}.batch_norm_epsilon', extractor.batch_norm_epsilon)
  check.at_least(f'{path}.weight_decay', extractor.weight_decay, 0)


def _validate_actor_detector(check, detector, path):
  backbone = detector.backbone
  if backbone.model_id not in RESNET_MODEL_IDS:
    check.fail(f'{path}.backbone.model_id', f'must be one of '
               f'{RESNET_MODEL_IDS}, got {backbone.model_id}')
  check.positive(f'{path}.backbone.depth_multiplier',
                 backbone.depth_multiplier)
  anchors = detector.anchor_generator
  apath = f'{path}.anchor_generator'
  if not 2 <= anchors.min_level <= anchors.max_level <= 5:
    check.fail(f'{apath}.min_level', f'levels must satisfy 2 <= min_level <= '
               f'max_level <= 5 (ResNet outputs), got {anchors.min_level}..'
               f'{anchors.max_level}')
  check.at_least(f'{apath}.num_scales', anchors.num_scales, 1)
  check.positive(f'{apath}.anchor_size', anchors.anchor_size)
  for i, ratio in enumerate(anchors.aspect_ratios):
    check.positive(f'{apath}.aspect_ratios[{i}]', ratio)
  rpn = detector.rpn
  rpath = f'{path}.rpn'
  check.at_least(f'{rpath}.batch_size_per_image', rpn.batch_size_per_image, 1)
  check.fraction(f'{rpath}.positive_fraction', rpn.positive_fraction)
  check.fraction(f'{rpath}.foreground_iou_threshold',
                 rpn.foreground_iou_threshold)
  check.fraction(f'{rpath}.background_iou_threshold',
                 rpn.background_iou_threshold)
  if rpn.background_iou_threshold > rpn.foreground_iou_threshold:
    check.fail(f'{rpath}.background_iou_threshold',
               f'must be <= foreground_iou_threshold '
               f'({rpn.foreground_iou_threshold}), got '
               f'{rpn.background_iou_threshold}')
  for field in ('pre_nms_top_k_train', 'num_proposals_train',
                'pre_nms_top_k_eval', 'num_proposals_eval'):
    check.at_least(f'{rpath}.{field}', getattr(rpn, field), 1)
  check.fraction(f'{rpath}.nms_iou_threshold', rpn.nms_iou_threshold,
                 allow_zero=False)
  check.at_least(f'{rpath}.min_size', rpn.min_size, 0)
  for size_field in ('image_height', 'image_width'):
    size = getattr(detector, size_field)
    check.at_least(f'{path}.{size_field}', size, 0)
    if size and size % 2**anchors.max_level:
      check.fail(f'{path}.{size_field}', f'must be a multiple of '
                 f'{2**anchors.max_level} (2^max_level), got {size}')


def _validate_action_head(check, head, path):
  check.at_least(f'{path}.num_classes', head.num_classes, 1)
  check.at_least(f'{path}.roi_crop_size', head.roi_crop_size, 1)
  check.at_least(f'{path}.roi_sampling_ratio', head.roi_sampling_ratio, 0)
  check.at_least(f'{path}.inflated_time_steps', head.inflated_time_steps, 1)
  check.at_least(f'{path}.num_sampled_rois', head.num_sampled_rois, 1)
  for field in ('foreground_fraction', 'foreground_iou_threshold',
                'background_iou_high_threshold',
                'background_iou_low_threshold', 'score_threshold'):
    check.fraction(f'{path}.{field}', getattr(head, field))
  if head.background_iou_low_threshold > head.background_iou_high_threshold:
    check.fail(f'{path}.background_iou_low_threshold',
               'must be <= background_iou_high_threshold')
  check.fraction(f'{path}.dropout_keep_probability',
                 head.dropout_keep_probability, allow_zero=False)
  check.at_least(f'{path}.max_detections', head.max_detections, 1)
  check.fraction(f'{path}.nms_iou_threshold', head.nms_iou_threshold,
                 allow_zero=False)
  check.at_least(f'{path}.head_depth_multiplier', head.head_depth_multiplier,
                 0)


def _validate_relation(check, relation, extractor, path):
  check.at_least(f'{path}.gradient_multiplier', relation.gradient_multiplier,
                 0)
  produced = _FEATURE_ENDPOINTS[
      :_FEATURE_ENDPOINTS.index(extractor.feature_endpoint) + 1]
  for i, scene in enumerate(relation.scene_features):
    if scene.endpoint not in produced:
      check.fail(f'{path}.scene_features[{i}].endpoint',
                 f'{scene.endpoint!r} is not produced by the feature '
                 f'extractor (it computes {", ".join(produced)})')
    check.positive(f'{path}.scene_features[{i}].scale', scene.scale)
  if relation.WhichOneof('relation_module_oneof') == 'acrn':
    check.at_least(f'{path}.acrn.relation_channels',
                   relation.acrn.relation_channels, 0)
  if relation.WhichOneof('relation_module_oneof') == 'santoro':
    check.at_least(f'{path}.santoro.num_units', relation.santoro.num_units, 1)
  kind = relation.WhichOneof('relation_module_oneof') or 'none'
  if not relation.actor_feature_in_g_theta and kind not in G_THETA_MODULES:
    check.fail(f'{path}.actor_feature_in_g_theta',
               f'false needs a module with g_theta '
               f'({" or ".join(G_THETA_MODULES)}), the module is {kind}')


_TYPES = train_pb2.TrainConfig.FineTuneCheckpointType
_PARTS = train_pb2.TrainConfig.WarmStartSource.Part


def _validate_warm_start_sources(check, sources, model, path):
  """Each source: a path, a type, parts the model has, a fitting scope."""
  streams = model.feature_extractor.streams
  streams_name = s3dg_pb2.S3dgFeatureExtractor.Streams.Name(streams)
  has = {
      _PARTS.RGB_TOWER: streams != s3dg_pb2.S3dgFeatureExtractor.FLOW,
      _PARTS.FLOW_TOWER: streams != s3dg_pb2.S3dgFeatureExtractor.RGB,
      _PARTS.ACTOR_HEAD: True,
      _PARTS.RELATION_HEAD: (
          model.relation_module.WhichOneof('relation_module_oneof') ==
          'acrn'),
  }
  owner = {}
  for i, source in enumerate(sources):
    spath = f'{path}[{i}]'
    if not source.checkpoint:
      check.fail(f'{spath}.checkpoint', 'is required (a checkpoint prefix or '
                 'directory)')
    if source.type == train_pb2.TrainConfig.UNSPECIFIED:
      check.fail(f'{spath}.type', 'is required (SLIM_S3DG, RESNET, FULL or '
                 'SHARED_PARTS)')
    kind = _TYPES.Name(source.type)
    if source.type == train_pb2.TrainConfig.FULL and len(sources) > 1:
      check.fail(f'{spath}.type', 'FULL restores the whole model: it must be '
                 'the only warm_start_source')
    if source.part and source.type != train_pb2.TrainConfig.SLIM_S3DG:
      check.fail(f'{spath}.part', f'only SLIM_S3DG sources take parts; {kind} '
                 'restores what its type says')
    for j, part in enumerate(source.part):
      name = _PARTS.Name(part)
      if part == _PARTS.DEFAULT_PARTS:
        check.fail(f'{spath}.part[{j}]', 'DEFAULT_PARTS is not a part: leave '
                   'part empty for every S3D-G part')
      if not has[part]:
        check.fail(f'{spath}.part[{j}]', f'{name}: the model has no such '
                   f'part (streams {streams_name}; a relation head only with '
                   'the acrn relation module)')
      if part in owner:
        check.fail(f'{spath}.part[{j}]', f'{name} is already restored by '
                   f'{owner[part]}')
      owner[part] = spath
    scope = source.scope
    if scope and source.type in (train_pb2.TrainConfig.FULL,
                                 train_pb2.TrainConfig.SHARED_PARTS):
      check.fail(f'{spath}.scope', f'must be empty for {kind} (an acrn_tf '
                 f'checkpoint), got {scope!r}')
    if scope and '' in scope.split('/'):
      check.fail(f'{spath}.scope', 'must be names joined by single "/", '
                 f'with none at either end, got {scope!r}')


def _validate_train(check, train, path, model):
  check.at_least(f'{path}.batch_size', train.batch_size, 1)
  check.at_least(f'{path}.num_steps', train.num_steps, 0)
  check.at_least(f'{path}.gradient_clipping_by_norm',
                 train.gradient_clipping_by_norm, 0)
  check.at_least(f'{path}.checkpoint_every_n', train.checkpoint_every_n, 1)
  check.at_least(f'{path}.max_to_keep', train.max_to_keep, 1)
  check.at_least(f'{path}.summary_every_n', train.summary_every_n, 1)
  check.at_least(f'{path}.steps_per_loop', train.steps_per_loop, 1)
  # Checkpoints and summaries are written between loops of steps_per_loop
  # steps, so only multiples of it fall where they are asked for (orbit
  # refuses other summary intervals; an interval checkpoint never due before
  # the last step does not matter).
  for field in ('checkpoint_every_n', 'summary_every_n'):
    if field == 'checkpoint_every_n' and (
        0 < train.num_steps <= train.checkpoint_every_n):
      continue
    if getattr(train, field) % train.steps_per_loop:
      check.fail(f'{path}.{field}', f'must be a multiple of '
                 f'{path}.steps_per_loop ({train.steps_per_loop}): they are '
                 f'written between loops of that many steps; got '
                 f'{getattr(train, field)}')
  has_path = bool(train.fine_tune_checkpoint)
  has_type = (train.fine_tune_checkpoint_type !=
              train_pb2.TrainConfig.UNSPECIFIED)
  if has_path and not has_type:
    check.fail(f'{path}.fine_tune_checkpoint_type', 'must be set (SLIM_S3DG, '
               'RESNET, FULL or SHARED_PARTS) when fine_tune_checkpoint is '
               'given')
  if has_type and not has_path:
    check.fail(f'{path}.fine_tune_checkpoint', 'must be set when '
               'fine_tune_checkpoint_type is given')
  if has_path and train.warm_start_source:
    check.fail(f'{path}.warm_start_source', 'set either fine_tune_checkpoint '
               '(one source) or warm_start_source (several), not both')
  _validate_warm_start_sources(check, train.warm_start_source, model,
                               f'{path}.warm_start_source')
  types = [s.type for s in train.warm_start_source] + [
      train.fine_tune_checkpoint_type]
  if train.relation_head_from_actor_head and (
      train_pb2.TrainConfig.SHARED_PARTS not in types):
    check.fail(f'{path}.relation_head_from_actor_head', 'needs '
               'fine_tune_checkpoint_type SHARED_PARTS or a warm_start_source '
               'of type SHARED_PARTS (the actor head it copies is restored by '
               'it)')
  _validate_frozen_parts(check, train.frozen_part, f'{path}.frozen_part')
  check.required(train, 'optimizer', path)
  opt_path = f'{path}.optimizer'
  name = train.optimizer.WhichOneof('optimizer')
  if name is None:
    check.fail(opt_path, 'must set '
               f'{" or ".join(optimizer_builder.OPTIMIZER_FIELDS)}')
  optimizer = getattr(train.optimizer, name)
  mpath = f'{opt_path}.{name}'
  if name == 'momentum_optimizer':
    check.fraction(f'{mpath}.momentum_optimizer_value',
                   optimizer.momentum_optimizer_value)
  elif name == 'adam_optimizer':
    for field in ('beta1', 'beta2'):
      value = getattr(optimizer, field)
      if not 0 <= value < 1:
        check.fail(f'{mpath}.{field}', f'must be in [0, 1), got {value}')
    check.positive(f'{mpath}.epsilon', optimizer.epsilon)
  check.required(optimizer, 'learning_rate', mpath)
  lr = optimizer_builder.learning_rate_config(train.optimizer)
  lpath = f'{mpath}.learning_rate'
  kind = lr.WhichOneof('learning_rate')
  if kind is None:
    check.fail(lpath, 'must set constant_learning_rate or '
               'cosine_decay_learning_rate')
  if kind == 'constant_learning_rate':
    check.positive(f'{lpath}.constant_learning_rate.learning_rate',
                   lr.constant_learning_rate.learning_rate)
  else:
    cosine = lr.cosine_decay_learning_rate
    cpath = f'{lpath}.cosine_decay_learning_rate'
    check.positive(f'{cpath}.learning_rate_base', cosine.learning_rate_base)
    check.at_least(f'{cpath}.warmup_learning_rate',
                   cosine.warmup_learning_rate, 0)
    check.at_least(f'{cpath}.total_steps', cosine.total_steps, 1)
    check.at_least(f'{cpath}.warmup_steps', cosine.warmup_steps, 0)
    check.at_least(f'{cpath}.hold_base_rate_steps',
                   cosine.hold_base_rate_steps, 0)
    if cosine.warmup_steps + cosine.hold_base_rate_steps > cosine.total_steps:
      check.fail(f'{cpath}.warmup_steps', f'warmup_steps + '
                 f'hold_base_rate_steps ({cosine.warmup_steps} + '
                 f'{cosine.hold_base_rate_steps}) must be <= total_steps '
                 f'({cosine.total_steps})')
    if cosine.warmup_learning_rate > cosine.learning_rate_base:
      check.fail(f'{cpath}.warmup_learning_rate', f'must be <= '
                 f'learning_rate_base ({cosine.learning_rate_base}), got '
                 f'{cosine.warmup_learning_rate}')
    if train.num_steps and train.num_steps != cosine.total_steps:
      ending = ('stop before the learning rate has decayed'
                if train.num_steps < cosine.total_steps else
                f'run {train.num_steps - cosine.total_steps} steps at '
                'learning rate 0 after the decay ends')
      check.fail(f'{cpath}.total_steps', f'is {cosine.total_steps} but '
                 f'{path}.num_steps is {train.num_steps}: training would '
                 f'{ending}. Make them equal (model_main --num_train_steps '
                 'rescales the schedule), or set num_steps to 0 to train '
                 'to total_steps')


def _validate_frozen_parts(check, parts, path):
  """Each frozen part a real part, named once."""
  frozen = train_pb2.TrainConfig.FrozenPart
  seen = set()
  for i, part in enumerate(parts):
    if part == frozen.FROZEN_PART_UNSPECIFIED:
      check.fail(f'{path}[{i}]', 'FROZEN_PART_UNSPECIFIED is not a part: '
                 'expected FEATURE_EXTRACTOR, ACTOR_DETECTOR or ACTOR_HEAD')
    if part in seen:
      check.fail(f'{path}[{i}]', f'{frozen.Name(part)} is named twice')
    seen.add(part)


def _validate_input_reader(check, reader, path, model):
  check.required(reader, 'tf_record_input_reader', path)
  if not reader.tf_record_input_reader.input_path:
    check.fail(f'{path}.tf_record_input_reader.input_path',
               'must name at least one TFRecord path or pattern')
  if not reader.label_map_path:
    check.fail(f'{path}.label_map_path', 'is required')
  check.at_least(f'{path}.frames_per_clip', reader.frames_per_clip, 1)
  check.at_least(f'{path}.frame_stride', reader.frame_stride, 1)
  stride = 2**model.actor_detector.anchor_generator.max_level
  for field in ('image_height', 'image_width'):
    value = getattr(reader, field)
    check.at_least(f'{path}.{field}', value, stride)
    if value % 16 or value % stride:
      check.fail(f'{path}.{field}', f'must be a multiple of '
                 f'{max(16, stride)} (the feature stride), got {value}')
  check.at_least(f'{path}.shuffle_buffer_size', reader.shuffle_buffer_size, 1)
  check.at_least(f'{path}.num_readers', reader.num_readers, 1)
  check.at_least(f'{path}.num_parallel_calls', reader.num_parallel_calls, 0)
  check.at_least(f'{path}.prefetch_buffer_size', reader.prefetch_buffer_size,
                 0)
  check.at_least(f'{path}.num_epochs', reader.num_epochs, 0)
  check.at_least(f'{path}.sample_1_of_n_examples',
                 reader.sample_1_of_n_examples, 1)
  check.at_least(f'{path}.max_num_boxes', reader.max_num_boxes, 1)
  streams = model.feature_extractor.streams
  if streams != s3dg_pb2.S3dgFeatureExtractor.RGB and not reader.use_flow:
    check.fail(f'{path}.use_flow', 'must be true: the feature extractor '
               f'uses the flow stream '
               f'({s3dg_pb2.S3dgFeatureExtractor.Streams.Name(streams)})')
  if reader.HasField('augmentation'):
    aug = reader.augmentation
    apath = f'{path}.augmentation'
    check.positive(f'{apath}.min_scale', aug.min_scale)
    if aug.max_scale < aug.min_scale:
      check.fail(f'{apath}.max_scale', f'must be >= min_scale '
                 f'({aug.min_scale}), got {aug.max_scale}')
    check.fraction(f'{apath}.min_crop_area_fraction',
                   aug.min_crop_area_fraction, allow_zero=False)
    check.fraction(f'{apath}.min_box_area_fraction',
                   aug.min_box_area_fraction)
    for field in ('max_brightness_delta', 'max_contrast_delta',
                  'max_saturation_delta', 'max_hue_delta'):
      check.fraction(f'{apath}.{field}', getattr(aug, field))


def _validate_eval(check, eval_config, path):
  for i, threshold in enumerate(eval_config.iou_thresholds):
    check.fraction(f'{path}.iou_thresholds[{i}]', threshold, allow_zero=False)
  for i, threshold in enumerate(eval_config.video_iou_thresholds):
    check.fraction(f'{path}.video_iou_thresholds[{i}]', threshold,
                   allow_zero=False)
  check.at_least(f'{path}.num_examples', eval_config.num_examples, 0)
  check.at_least(f'{path}.batch_size', eval_config.batch_size, 1)
  check.at_least(f'{path}.max_detections_per_keyframe',
                 eval_config.max_detections_per_keyframe, 1)
  check.at_least(f'{path}.num_visualizations', eval_config.num_visualizations,
                 0)
  check.at_least(f'{path}.eval_interval_secs', eval_config.eval_interval_secs,
                 0)
  check.at_least(f'{path}.eval_every_n_steps', eval_config.eval_every_n_steps,
                 1)
