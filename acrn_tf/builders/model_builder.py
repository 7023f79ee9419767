"""Builds the detection model from its config (`model_pb2.ActionDetectionModel`).

The one place config messages become model objects: the S3D-G feature
extractor, the keyframe actor detector, the action head, the relation module
(`relation_builder`) and the meta-architecture wiring them. A config without
a relation module (or with `none`) gives the Base-Model (`VideoFasterRCNN`);
any other relation module gives `ACRNMetaArch`. Training, evaluation, export
and inference all build their model here (`build_with_variables`), with the
clip settings of one input reader (`config_util.eval_input_reader`) and
the classes of one label map (`model_label_map`).
"""

from typing import Dict, Optional, Sequence, Tuple

import tensorflow as tf

from acrn_tf.builders import mixed_precision
from acrn_tf.builders import relation_builder
from acrn_tf.core import standard_fields as fields
from acrn_tf.data import label_map_util
from acrn_tf.meta_architectures import acrn_meta_arch
from acrn_tf.meta_architectures import actor_feature_tower
from acrn_tf.meta_architectures import video_faster_rcnn
from acrn_tf.models import keyframe_actor_detector
from acrn_tf.models import video_feature_extractor
from acrn_tf.protos import action_head_pb2
from acrn_tf.protos import actor_detector_pb2
from acrn_tf.protos import model_pb2
from acrn_tf.protos import pipeline_pb2
from acrn_tf.protos import s3dg_pb2
from acrn_tf.relation import none

_STREAMS = {
    s3dg_pb2.S3dgFeatureExtractor.RGB: 'rgb',
    s3dg_pb2.S3dgFeatureExtractor.FLOW: 'flow',
    s3dg_pb2.S3dgFeatureExtractor.RGB_AND_FLOW: 'rgb_and_flow',
}
_FUSION_OPS = {
    s3dg_pb2.S3dgFeatureExtractor.SUM: 'sum',
    s3dg_pb2.S3dgFeatureExtractor.AVERAGE: 'average',
    s3dg_pb2.S3dgFeatureExtractor.CONCAT_CONV: 'concat_conv',
}
_LABEL_MODES = {
    action_head_pb2.ActionHead.MULTI_LABEL: video_faster_rcnn.MULTI_LABEL,
    action_head_pb2.ActionHead.SINGLE_LABEL: video_faster_rcnn.SINGLE_LABEL,
}


class ModelConfigError(ValueError):
  """A model config field has a value the model cannot be built with."""


def s3dg_kwargs(config: s3dg_pb2.S3dgFeatureExtractor) -> dict:
  """`S3DG` keyword arguments of the extractor's towers."""
  return {
      'first_temporal_kernel_size': config.first_temporal_kernel_size,
      'temporal_conv_startat': config.temporal_conv_startat or None,
      'gating_startat': config.gating_startat or None,
      'depth_multiplier': config.depth_multiplier,
      'min_depth': config.min_depth,
      'batch_norm_decay': config.batch_norm_decay,
      'batch_norm_epsilon': config.batch_norm_epsilon,
      'weight_decay': config.weight_decay,
      'use_frozen_batch_norm': config.use_frozen_batch_norm,
  }


def build_feature_extractor(
    config: s3dg_pb2.S3dgFeatureExtractor,
    scene_endpoints: Sequence[str] = ()
) -> video_feature_extractor.VideoFeatureExtractor:
  """The S3D-G towers, fusion and temporal flattening of F and scene maps."""
  feature_endpoint = config.feature_endpoint
  extra = tuple(e for e in scene_endpoints if e != feature_endpoint)
  return video_feature_extractor.VideoFeatureExtractor(
      streams=_STREAMS[config.streams],
      fusion_endpoint=config.fusion_endpoint,
      fusion_op=_FUSION_OPS[config.fusion_op],
      feature_endpoint=feature_endpoint,
      scene_endpoints=extra,
      **s3dg_kwargs(config))


def detector_image_size(config: actor_detector_pb2.KeyframeActorDetector,
                        image_size: Optional[Tuple[int, int]]
                        ) -> Tuple[int, int]:
  """The keyframe size the actor RPN runs at.

  `actor_detector.image_height/width` when set, else the clip's frame size.

  Raises:
    ModelConfigError: neither is known, or only one of height and width is
      set.
  """
  height, width = config.image_height, config.image_width
  if (height > 0) != (width > 0):
    raise ModelConfigError(
        'model.video_faster_rcnn.actor_detector: image_height and image_width '
        f'must be set together, got {height} x {width}.')
  if height > 0:
    return int(height), int(width)
  if image_size is None:
    raise ModelConfigError(
        'model.video_faster_rcnn.actor_detector.image_height/image_width are '
        'unset: pass image_size (the input reader\'s image_height and '
        'image_width).')
  return int(image_size[0]), int(image_size[1])


def build_actor_detector(config: actor_detector_pb2.KeyframeActorDetector,
                         image_size: Tuple[int, int]
                         ) -> keyframe_actor_detector.KeyframeActorDetector:
  """ResNet + anchors + RPN + proposal generation from the config."""
  backbone = config.backbone
  anchors = config.anchor_generator
  rpn = config.rpn
  return keyframe_actor_detector.KeyframeActorDetector(
      image_size=image_size,
      model_id=backbone.model_id,
      depth_multiplier=backbone.depth_multiplier,
      use_frozen_batch_norm=backbone.use_frozen_batch_norm,
      weight_decay=backbone.weight_decay,
      min_level=anchors.min_level,
      max_level=anchors.max_level,
      num_scales=anchors.num_scales,
      aspect_ratios=tuple(anchors.aspect_ratios) or (0.5, 1.0, 2.0),
      anchor_size=anchors.anchor_size,
      rpn_batch_size_per_image=rpn.batch_size_per_image,
      rpn_positive_fraction=rpn.positive_fraction,
      rpn_foreground_iou_threshold=rpn.foreground_iou_threshold,
      rpn_background_iou_threshold=rpn.background_iou_threshold,
      pre_nms_top_k_train=rpn.pre_nms_top_k_train,
      num_proposals_train=rpn.num_proposals_train,
      pre_nms_top_k_eval=rpn.pre_nms_top_k_eval,
      num_proposals_eval=rpn.num_proposals_eval,
      nms_iou_threshold=rpn.nms_iou_threshold,
      score_threshold=rpn.score_threshold,
      min_size=rpn.min_size)


def build(model_config: model_pb2.ActionDetectionModel,
          is_training: bool,
          image_size: Optional[Tuple[int, int]] = None
          ) -> video_faster_rcnn.VideoFasterRCNN:
  """Builds the model a `model` config describes.

  Args:
    model_config: the pipeline's `model` message.
    is_training: whether the model is built for training (dropout and ROI
      sampling are chosen per call by `training=`; this only checks that
      training-only settings make sense).
    image_size: (height, width) of the clips' frames, used as the actor
      detector's keyframe size when the config leaves it unset.

  Returns:
    `VideoFasterRCNN` (no relation module) or `ACRNMetaArch`.

  Raises:
    ModelConfigError: the config has no model, or no image size.
  """
  kind = model_config.WhichOneof('model')
  if kind != 'video_faster_rcnn':
    raise ModelConfigError(
        f'model: expected a video_faster_rcnn model, got {kind!r}.')
  # Field values were checked by config_validation (and the meta-
  # architecture checks what a direct Python caller could get wrong).
  config = model_config.video_faster_rcnn
  head = config.action_head
  extractor_config = config.feature_extractor
  relation = relation_builder.build_relation_module(
      config.relation_module if config.HasField('relation_module') else None,
      extractor_config, head)
  feature_extractor = build_feature_extractor(extractor_config,
                                              relation.scene_endpoints)
  detector = build_actor_detector(
      config.actor_detector,
      detector_image_size(config.actor_detector, image_size))
  actor_head = actor_feature_tower.ActorFeatureTower(
      inflated_time_steps=head.inflated_time_steps,
      name='action_head',
      **relation_builder.s3dg_head_kwargs(extractor_config, head))
  kwargs = dict(
      feature_extractor=feature_extractor,
      actor_detector=detector,
      actor_head=actor_head,
      num_classes=head.num_classes,
      label_mode=_LABEL_MODES[head.label_mode],
      roi_crop_size=head.roi_crop_size,
      num_sampled_rois=head.num_sampled_rois,
      foreground_fraction=head.foreground_fraction,
      foreground_iou_threshold=head.foreground_iou_threshold,
      background_iou_high_threshold=head.background_iou_high_threshold,
      background_iou_low_threshold=head.background_iou_low_threshold,
      mix_groundtruth_boxes=config.actor_detector.rpn.mix_groundtruth_boxes,
      box_regression=head.box_regression,
      dropout_keep_probability=head.dropout_keep_probability,
      loss_weights={
          fields.LossFields.rpn_objectness:
              config.actor_detector.rpn.objectness_loss_weight,
          fields.LossFields.rpn_localization:
              config.actor_detector.rpn.localization_loss_weight,
          fields.LossFields.classification: head.classification_loss_weight,
          fields.LossFields.localization: head.localization_loss_weight,
      },
      max_detections=head.max_detections,
      score_threshold=head.score_threshold,
      nms_iou_threshold=head.nms_iou_threshold,
      use_xla=config.use_xla)
  del is_training
  if isinstance(relation, none.NoRelation):
    return video_faster_rcnn.VideoFasterRCNN(name='base_model', **kwargs)
  return acrn_meta_arch.ACRNMetaArch(relation_module=relation, name='acrn',
                                     **kwargs)


def build_with_variables(config: pipeline_pb2.TrainEvalPipelineConfig,
                         reader, is_training: bool
                         ) -> video_faster_rcnn.VideoFasterRCNN:
  """Builds the pipeline's model and creates its variables with a zero clip.

  The model's layers compute under train_config.mixed_precision's policy
  (their variables are float32 under every policy). The keyframe for the
  actor detector always comes from the RGB frames, so frames are fed even
  to a flow-only extractor.

  Args:
    config: the pipeline config.
    reader: the input reader whose clips the model takes (frames_per_clip,
      image_height, image_width): the train_input_reader for training,
      `config_util.eval_input_reader(config)` otherwise.
    is_training: see `build`.

  Returns:
    The built model, every variable created.
  """
  image_size = int(reader.image_height), int(reader.image_width)
  with mixed_precision.policy_scope(
      mixed_precision.policy_name(config.train_config)):
    model = build(config.model, is_training=is_training,
                  image_size=image_size)
    clip = [1, max(reader.frames_per_clip, 1), *image_size]
    inputs = {fields.InputDataFields.frames: tf.zeros(clip + [3])}
    if 'flow' in model.feature_extractor.towers:
      inputs[fields.InputDataFields.flow] = tf.zeros(clip + [2])
    model.predict(model.preprocess(inputs), training=False)
  return model


def model_label_map(config: pipeline_pb2.TrainEvalPipelineConfig
                    ) -> Dict[int, str]:
  """The model's classes: the eval label map, else the train one.

  Read from the first label_map_path of eval_config, the eval input
  readers and the train input reader; without any, the classes are named
  by their ids 1..num_classes.
  """
  paths = [config.eval_config.label_map_path]
  paths += [r.label_map_path for r in config.eval_input_reader]
  paths.append(config.train_input_reader.label_map_path)
  for path in paths:
    if path:
      return label_map_util.read_label_map(path)
  num = config.model.video_faster_rcnn.action_head.num_classes
  return {i: str(i) for i in range(1, num + 1)}
