"""Seeded ROI sampling for the action head's training targets.

Matches proposals to ground truth boxes as Model Garden's `ROISampler` does
(its IoU similarity and box matcher, the same foreground and background IoU
bands) and picks the minibatch with `acrn_tf.core.stateless_sampling`
instead of Model Garden's stateful shuffle, so a step's ROIs depend only on
its seed and a training job resumed from a checkpoint samples exactly what
the uninterrupted job sampled.

Boxes are `[ymin, xmin, ymax, xmax]` in absolute pixels of the detector's
image.
"""

from typing import Optional, Tuple

import tensorflow as tf
import tf_keras
from official.vision.ops import box_matcher
from official.vision.ops import iou_similarity

from acrn_tf.core import stateless_sampling

# Match indicators of the box matcher.
_INVALID = -3
_NEGATIVE = -1
_IGNORED = -2
_POSITIVE = 1


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class SeededROISampler(tf_keras.layers.Layer):
  """Samples a fixed number of ROIs per image from a stateless seed."""

  def __init__(self,
               mix_gt_boxes: bool = True,
               num_sampled_rois: int = 64,
               foreground_fraction: float = 0.25,
               foreground_iou_threshold: float = 0.5,
               background_iou_high_threshold: float = 0.5,
               background_iou_low_threshold: float = 0.0,
               **kwargs):
    """Initialises the sampler (arguments as Model Garden's `ROISampler`).

    Args:
      mix_gt_boxes: add the ground truth boxes to the proposals.
      num_sampled_rois: K, ROIs per image.
      foreground_fraction: the most foreground ROIs in K, as a fraction.
      foreground_iou_threshold: a ROI with IoU >= this with a ground truth
        box is foreground.
      background_iou_high_threshold, background_iou_low_threshold: a ROI
        whose best IoU is in [low, high) is background; a ROI between
        `background_iou_high_threshold` and `foreground_iou_threshold` is
        ignored.
      **kwargs: keyword arguments of `tf_keras.layers.Layer`.

    Raises:
      ValueError: thresholds out of order or a bad count or fraction.
    """
    super().__init__(**kwargs)
    if not (background_iou_low_threshold <= background_iou_high_threshold
            <= foreground_iou_threshold):
      raise ValueError(
          'ROI sampler thresholds must satisfy background_iou_low_threshold '
          '<= background_iou_high_threshold <= foreground_iou_threshold, got '
          f'{background_iou_low_threshold}, {background_iou_high_threshold}, '
          f'{foreground_iou_threshold}')
    if num_sampled_rois < 1:
      raise ValueError(
          f'num_sampled_rois must be >= 1, got {num_sampled_rois}')
    if not 0.0 <= foreground_fraction <= 1.0:
      raise ValueError('foreground_fraction must be in [0, 1], got '
                       f'{foreground_fraction}')
    self._config_dict = {
        'mix_gt_boxes': mix_gt_boxes,
        'num_sampled_rois': num_sampled_rois,
        'foreground_fraction': foreground_fraction,
        'foreground_iou_threshold': foreground_iou_threshold,
        'background_iou_high_threshold': background_iou_high_threshold,
        'background_iou_low_threshold': background_iou_low_threshold,
    }
    self._similarity = iou_similarity.IouSimilarity()
    self._matcher = box_matcher.BoxMatcher(
        thresholds=[background_iou_low_threshold,
                    background_iou_high_threshold, foreground_iou_threshold],
        indicators=[_INVALID, _NEGATIVE, _IGNORED, _POSITIVE])

  def call(self, boxes: tf.Tensor, gt_boxes: tf.Tensor, gt_valid: tf.Tensor,
           seed: Optional[tf.Tensor] = None
           ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Samples ROIs and matches each to a ground truth box or background.

    Args:
      boxes: float32 [batch, N, 4] proposals, absolute.
      gt_boxes: float32 [batch, M, 4] ground truth boxes, absolute.
      gt_valid: bool [batch, M], False for padding.
      seed: int32/int64 [2] stateless seed (default
        `stateless_sampling.DEFAULT_SEED`).

    Returns:
      sampled_rois: float32 [batch, K, 4] absolute, K = num_sampled_rois.
      sampled_gt_boxes: float32 [batch, K, 4], the matched ground truth box
        of foreground ROIs, zeros for background.
      sampled_gt_indices: int32 [batch, K], the matched box's index in
        `gt_boxes` for foreground ROIs, -1 for background (including the
        filler ROIs of an image with fewer than K candidates).

    Raises:
      ValueError: N (+ M when mixed) is smaller than K.
    """
    config = self._config_dict
    gt_valid = tf.cast(gt_valid, tf.bool)
    gt_boxes = tf.where(gt_valid[..., tf.newaxis],
                        tf.cast(gt_boxes, boxes.dtype), -1.0)
    if config['mix_gt_boxes']:
      boxes = tf.concat([boxes, gt_boxes], axis=1)
    boxes_invalid = tf.reduce_max(boxes, axis=-1, keepdims=True) < 0.0
    gt_invalid = tf.logical_not(gt_valid)[..., tf.newaxis]
    similarity = self._similarity(boxes, gt_boxes, boxes_invalid, gt_invalid)
    matched_indices, indicators = self._matcher(similarity)
    positives = tf.equal(indicators, _POSITIVE)
    candidates = tf.logical_or(positives, tf.equal(indicators, _NEGATIVE))

    num_samples = config['num_sampled_rois']
    sampled = stateless_sampling.balanced_sample(
        candidates, positives, num_samples, config['foreground_fraction'],
        stateless_sampling.as_seed(seed))
    indices, valid = stateless_sampling.sampled_indices(sampled, num_samples)
    sampled_rois = tf.gather(boxes, indices, batch_dims=1)
    foreground = tf.logical_and(
        valid, tf.gather(positives, indices, batch_dims=1))
    sampled_gt_indices = tf.where(
        foreground, tf.gather(matched_indices, indices, batch_dims=1), -1)
    sampled_gt_boxes = tf.gather(gt_boxes, tf.maximum(sampled_gt_indices, 0),
                                 batch_dims=1)
    sampled_gt_boxes = tf.where(foreground[..., tf.newaxis],
                                sampled_gt_boxes, 0.0)
    return (sampled_rois, sampled_gt_boxes,
            tf.cast(sampled_gt_indices, tf.int32))

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
