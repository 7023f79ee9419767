"""The keyframe actor detector: a 2D ResNet and a region proposal network.

Paper 3.1: actors are localised on the keyframe by an RPN on a 2D ResNet
(ResNet-50 in the paper). Everything here is Model Garden's
(`official.vision`): the ResNet backbone, the anchors, the RPN head, the
multilevel ROI generator, the RPN anchor matching and box encoding, and the
RPN losses. This module wires them and computes the RPN training targets
inside the model (per image, from padded ground truth), so the input
pipeline stays model-agnostic. The anchor minibatch of the objectness loss
is drawn with `acrn_tf.core.stateless_sampling` from an explicit seed
rather than by Model Garden's labeler, whose shuffle is stateful (a job
resumed from a checkpoint would draw other anchors than the uninterrupted
job).

Boxes inside the detector are absolute pixels of the detector's input image,
`[ymin, xmin, ymax, xmax]`.
"""

import collections
from typing import Dict, Optional, Sequence, Tuple

import tensorflow as tf
import tf_keras
from official.vision.losses import maskrcnn_losses
from official.vision.modeling.backbones import resnet
from official.vision.modeling.heads import dense_prediction_heads
from official.vision.modeling.layers import roi_generator
from official.vision.ops import anchor

from acrn_tf.core import standard_fields
from acrn_tf.core import stateless_sampling

_P = standard_fields.PredictionFields

# ImageNet statistics Model Garden's ResNets are trained with (0..255 scale).
_MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
_STDDEV_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)


class _UnsampledRpnAnchorLabeler(anchor.RpnAnchorLabeler):
  """Model Garden's RPN labeler without its (stateful) anchor subsampling.

  Score targets are 1 for every positive anchor, 0 for every negative one
  and -1 for ignored ones; `KeyframeActorDetector.targets` subsamples them
  from a seed.
  """

  def _get_rpn_samples(self, match_results):
    labels = tf.where(match_results > -1, 1,
                      tf.where(match_results > -2, 0, -1))
    return tf.cast(labels, tf.int32), None, None


class KeyframeActorDetector(tf_keras.layers.Layer):
  """ResNet + RPN over the keyframe; proposals and RPN losses."""

  def __init__(self,
               image_size: Tuple[int, int],
               model_id: int = 50,
               depth_multiplier: float = 1.0,
               use_frozen_batch_norm: bool = True,
               weight_decay: float = 1e-4,
               min_level: int = 4,
               max_level: int = 4,
               num_scales: int = 3,
               aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
               anchor_size: float = 4.0,
               rpn_batch_size_per_image: int = 256,
               rpn_positive_fraction: float = 0.5,
               rpn_foreground_iou_threshold: float = 0.7,
               rpn_background_iou_threshold: float = 0.3,
               pre_nms_top_k_train: int = 2000,
               num_proposals_train: int = 300,
               pre_nms_top_k_eval: int = 1000,
               num_proposals_eval: int = 100,
               nms_iou_threshold: float = 0.7,
               score_threshold: float = 0.0,
               min_size: float = 0.0,
               huber_loss_delta: float = 1.0 / 9.0,
               **kwargs):
    """Initialises the detector.

    Args:
      image_size: (height, width) of the keyframe fed to the ResNet.
      model_id: ResNet depth.
      depth_multiplier: ResNet channel multiplier.
      use_frozen_batch_norm: keep the ResNet's batch-norm statistics and
        parameters fixed.
      weight_decay: L2 weight decay of the ResNet and RPN kernels.
      min_level, max_level: pyramid levels of the RPN (stride 2^level).
      num_scales, aspect_ratios, anchor_size: Model Garden anchor settings
        (aspect ratio = width / height; base size anchor_size * 2^level).
      rpn_*: anchor sampling and IoU thresholds of the RPN targets.
      pre_nms_top_k_*, num_proposals_*, nms_iou_threshold, score_threshold,
        min_size: proposal generation in training and evaluation.
      huber_loss_delta: delta of the RPN box loss.
      **kwargs: keyword arguments of `tf_keras.layers.Layer`.
    """
    super().__init__(**kwargs)
    self._config_dict = {
        'image_size': tuple(image_size), 'model_id': model_id,
        'depth_multiplier': depth_multiplier,
        'use_frozen_batch_norm': use_frozen_batch_norm,
        'weight_decay': weight_decay, 'min_level': min_level,
        'max_level': max_level, 'num_scales': num_scales,
        'aspect_ratios': list(aspect_ratios), 'anchor_size': anchor_size,
        'rpn_batch_size_per_image': rpn_batch_size_per_image,
        'rpn_positive_fraction': rpn_positive_fraction,
        'rpn_foreground_iou_threshold': rpn_foreground_iou_threshold,
        'rpn_background_iou_threshold': rpn_background_iou_threshold,
        'pre_nms_top_k_train': pre_nms_top_k_train,
        'num_proposals_train': num_proposals_train,
        'pre_nms_top_k_eval': pre_nms_top_k_eval,
        'num_proposals_eval': num_proposals_eval,
        'nms_iou_threshold': nms_iou_threshold,
        'score_threshold': score_threshold, 'min_size': min_size,
        'huber_loss_delta': huber_loss_delta,
    }
    height, width = image_size
    regularizer = (tf_keras.regularizers.L2(weight_decay)
                   if weight_decay else None)
    self.backbone = resnet.ResNet(
        model_id=model_id,
        input_specs=tf_keras.layers.InputSpec(shape=[None, height, width, 3]),
        depth_multiplier=depth_multiplier,
        kernel_regularizer=regularizer,
        bn_trainable=not use_frozen_batch_norm)
    num_anchors = num_scales * len(aspect_ratios)
    self.rpn_head = dense_prediction_heads.RPNHead(
        min_level=min_level, max_level=max_level,
        num_anchors_per_location=num_anchors,
        num_convs=1,
        num_filters=max(16, int(256 * depth_multiplier)),
        kernel_regularizer=regularizer)
    self.roi_generator = roi_generator.MultilevelROIGenerator(
        pre_nms_top_k=pre_nms_top_k_train,
        pre_nms_score_threshold=score_threshold,
        pre_nms_min_size_threshold=min_size,
        nms_iou_threshold=nms_iou_threshold,
        num_proposals=num_proposals_train,
        test_pre_nms_top_k=pre_nms_top_k_eval,
        test_pre_nms_score_threshold=score_threshold,
        test_pre_nms_min_size_threshold=min_size,
        test_nms_iou_threshold=nms_iou_threshold,
        test_num_proposals=num_proposals_eval,
        # Box decoding and NMS in float32 under a mixed-precision policy.
        dtype='float32')
    self._anchor_boxes = anchor.Anchor(
        min_level=min_level, max_level=max_level, num_scales=num_scales,
        aspect_ratios=list(aspect_ratios), anchor_size=anchor_size,
        image_size=(height, width)).multilevel_boxes
    self._labeler = _UnsampledRpnAnchorLabeler(
        match_threshold=rpn_foreground_iou_threshold,
        unmatched_threshold=rpn_background_iou_threshold,
        rpn_batch_size_per_im=rpn_batch_size_per_image,
        rpn_fg_fraction=rpn_positive_fraction)
    self._score_loss = maskrcnn_losses.RpnScoreLoss(rpn_batch_size_per_image)
    self._box_loss = maskrcnn_losses.RpnBoxLoss(huber_loss_delta)

  @property
  def image_size(self) -> Tuple[int, int]:
    return self._config_dict['image_size']

  def num_proposals(self, training: bool) -> int:
    key = 'num_proposals_train' if training else 'num_proposals_eval'
    return self._config_dict[key]

  @staticmethod
  def normalize_image(images: tf.Tensor) -> tf.Tensor:
    """RGB in [0, 255] -> ImageNet-normalised input of the ResNet."""
    mean = tf.constant(_MEAN_RGB, images.dtype)
    stddev = tf.constant(_STDDEV_RGB, images.dtype)
    return (images - mean) / stddev

  def anchor_boxes(self, batch_size) -> Dict[str, tf.Tensor]:
    """Anchors per level, [batch, h_l, w_l, 4 * num_anchors], absolute."""
    return {level: tf.tile(boxes[tf.newaxis], [batch_size, 1, 1, 1])
            for level, boxes in self._anchor_boxes.items()}

  def call(self, images: tf.Tensor, training: Optional[bool] = None):
    """Runs the RPN on normalised keyframes.

    Args:
      images: float32 [batch, height, width, 3], `normalize_image` output, at
        `image_size`.
      training: training mode (proposal settings and batch norm).

    Returns:
      A dict keyed by standard_fields.PredictionFields:
      rpn_objectness_logits and rpn_box_encodings (level -> float32 [batch,
      h_l, w_l, num_anchors(*4)] under every precision policy),
      anchor_boxes (level -> absolute anchors), proposal_boxes float32 [batch, num_proposals, 4] absolute and
      proposal_scores [batch, num_proposals].
    """
    features = self.backbone(images, training=training)
    levels = range(self._config_dict['min_level'],
                   self._config_dict['max_level'] + 1)
    features = {str(level): features[str(level)] for level in levels}
    rpn_scores, rpn_boxes = self.rpn_head(features, training=training)
    # float32 under a mixed-precision policy too: the losses, box decoding
    # and NMS read them.
    rpn_scores, rpn_boxes = tf.nest.map_structure(
        lambda x: tf.cast(x, tf.float32), (rpn_scores, rpn_boxes))
    batch_size = tf.shape(images)[0]
    anchors = self.anchor_boxes(batch_size)
    height, width = self.image_size
    image_shape = tf.tile(tf.constant([[height, width]], tf.float32),
                          [batch_size, 1])
    proposals, scores = self.roi_generator(
        rpn_boxes, rpn_scores, anchors, image_shape, training=training)
    return {
        _P.rpn_objectness_logits: rpn_scores,
        _P.rpn_box_encodings: rpn_boxes,
        _P.anchor_boxes: anchors,
        _P.proposal_boxes: tf.stop_gradient(proposals),
        _P.proposal_scores: tf.stop_gradient(scores),
    }

  def targets(self, gt_boxes: tf.Tensor, gt_valid: tf.Tensor,
              seed: Optional[tf.Tensor] = None):
    """RPN training targets for a batch.

    Anchors are matched to the ground truth by Model Garden's labeler (IoU
    >= rpn_foreground_iou_threshold positive, < rpn_background_iou_threshold
    negative, each box's best anchor positive); then per image
    `rpn_batch_size_per_image` anchors, at most `rpn_positive_fraction`
    positive, are drawn from `seed`; the rest are ignored.

    Args:
      gt_boxes: float32 [batch, max_boxes, 4] absolute pixels of the
        detector's image.
      gt_valid: bool [batch, max_boxes].
      seed: int32/int64 [2] stateless seed of the anchor sampling (default
        `stateless_sampling.DEFAULT_SEED`).

    Returns:
      (score_targets, box_targets): dicts level -> [batch, h_l, w_l, A] int32
      (1 positive, 0 negative, -1 ignored or not sampled) and
      [batch, h_l, w_l, 4A].
    """
    levels = sorted(self._anchor_boxes, key=int)

    def label_one(args):
      boxes, valid = args
      boxes = tf.boolean_mask(boxes, valid)
      labels = tf.ones([tf.shape(boxes)[0], 1], tf.int32)
      score_targets, box_targets = self._labeler.label_anchors(
          self._anchor_boxes, boxes, labels)
      return (tuple(score_targets[level] for level in levels),
              tuple(box_targets[level] for level in levels))

    signature = (
        tuple(tf.TensorSpec(self._anchor_boxes[level].shape[:2] +
                            [self._anchor_boxes[level].shape[2] // 4],
                            tf.int32) for level in levels),
        tuple(tf.TensorSpec(self._anchor_boxes[level].shape, tf.float32)
              for level in levels))
    scores, boxes = tf.map_fn(label_one, (gt_boxes, gt_valid),
                              fn_output_signature=signature)
    scores = self._sample_anchors(scores, seed)
    return (collections.OrderedDict(zip(levels, scores)),
            collections.OrderedDict(zip(levels, boxes)))

  def _sample_anchors(self, scores, seed):
    """Keeps a seeded balanced minibatch of each image's labelled anchors.

    Args:
      scores: per level, int32 [batch, h_l, w_l, A] (1, 0 or -1).
      seed: stateless seed or None.

    Returns:
      The same tensors with unsampled anchors set to -1.
    """
    shapes = [level_scores.shape[1:] for level_scores in scores]
    sizes = [shape.num_elements() for shape in shapes]
    flat = tf.concat([tf.reshape(level_scores, [-1, size])
                      for level_scores, size in zip(scores, sizes)], axis=1)
    sampled = stateless_sampling.balanced_sample(
        candidates=flat >= 0, positives=flat > 0,
        num_samples=self._config_dict['rpn_batch_size_per_image'],
        positive_fraction=self._config_dict['rpn_positive_fraction'],
        seed=stateless_sampling.as_seed(seed, 'RPN sampling seed'))
    flat = tf.where(sampled, flat, -1)
    return tuple(tf.reshape(level_scores, [-1] + shape.as_list())
                 for level_scores, shape in zip(tf.split(flat, sizes, axis=1),
                                                shapes))

  def losses(self, outputs, gt_boxes, gt_valid,
             seed: Optional[tf.Tensor] = None):
    """Returns (objectness loss, box loss) of the RPN outputs.

    Args:
      outputs: `call` output.
      gt_boxes: float32 [batch, max_boxes, 4] absolute.
      gt_valid: bool [batch, max_boxes].
      seed: stateless seed of the anchor sampling (see `targets`).
    """
    score_targets, box_targets = self.targets(gt_boxes, gt_valid, seed)
    objectness = self._score_loss(outputs[_P.rpn_objectness_logits],
                                  score_targets)
    localization = self._box_loss(outputs[_P.rpn_box_encodings], box_targets)
    return objectness, localization

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
