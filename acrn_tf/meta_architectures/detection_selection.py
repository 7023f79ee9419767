"""Which scored ROIs become an image's detections: NMS and padding.

The last step of `VideoFasterRCNN.postprocess`, after the boxes are decoded
and clipped and the logits turned into probabilities:

* multi-label (AVA: a box carries several actions): class-agnostic NMS on
  each box's best class score keeps up to `max_detections` boxes, each with
  every class score (AVA evaluation scores every class of every box);
* single-label (JHMDB: one action per actor): every (box, class) pair is a
  candidate, NMS runs per class, and a box may be kept for several classes.

Model Garden's `DetectionGenerator` decodes box encodings itself and
returns neither the kept ROIs' indices (relation heat maps gather by them)
nor every class score of a kept box, so this calls TF's batched
`tf.image.non_max_suppression_padded` itself.
"""

import collections

import tensorflow as tf

from acrn_tf.core import standard_fields as fields

_DETECTIONS = fields.DetectionResultFields

Selection = collections.namedtuple(
    'Selection', 'detections roi_indices class_indices valid')
Selection.__doc__ = """What `select` kept.

Attributes:
  detections: dict keyed by DetectionResultFields: detection_boxes [B, N,
    4], detection_scores [B, N], detection_classes [B, N] (label-map ids,
    float32), detection_multiclass_scores [B, N, C], num_detections [B];
    N = max_detections, padded detections are zeros.
  roi_indices: int32 [B, N], the ROI each detection came from.
  class_indices: int32 [B, N], its class, 0-based (id - 1).
  valid: bool [B, N], False for padding.
"""


def select(boxes: tf.Tensor, probabilities: tf.Tensor, multi_label: bool,
           max_detections: int, iou_threshold: float,
           score_threshold: float = 0.0) -> Selection:
  """NMS over each image's ROIs; see the module docstring.

  Args:
    boxes: float32 [B, R, 4] normalised [ymin, xmin, ymax, xmax].
    probabilities: float32 [B, R, C] class probabilities (no background).
    multi_label: class-agnostic NMS keeping every class score (True), or
      per-class NMS over (box, class) pairs (False).
    max_detections: detections kept per image, N.
    iou_threshold: NMS suppresses a candidate overlapping a kept one by more.
    score_threshold: candidates scoring at most this are dropped.

  Returns:
    `Selection`, detections sorted by score, best first.
  """
  if multi_label:
    scores = tf.reduce_max(probabilities, axis=-1)
    roi_indices, num_valid = tf.image.non_max_suppression_padded(
        boxes, scores, max_detections, iou_threshold=iou_threshold,
        score_threshold=score_threshold, pad_to_max_output_size=True)
    class_indices = tf.argmax(
        tf.gather(probabilities, roi_indices, batch_dims=1), axis=-1,
        output_type=tf.int32)
  else:
    num_classes = probabilities.shape[-1] or tf.shape(probabilities)[-1]
    num_rois = tf.shape(boxes)[1]
    pair_boxes = tf.repeat(boxes, num_classes, axis=1)
    pair_classes = tf.tile(tf.range(num_classes), [num_rois])
    # Per-class NMS as one NMS: boxes of different classes are moved apart
    # (normalised boxes span at most 1) so they never overlap.
    offset = tf.cast(pair_classes, tf.float32)[tf.newaxis, :, tf.newaxis]
    pair_scores = tf.reshape(probabilities, [tf.shape(boxes)[0], -1])
    pair_indices, num_valid = tf.image.non_max_suppression_padded(
        pair_boxes + 2.0 * offset, pair_scores, max_detections,
        iou_threshold=iou_threshold, score_threshold=score_threshold,
        pad_to_max_output_size=True)
    roi_indices = pair_indices // num_classes
    class_indices = pair_indices % num_classes
  valid = tf.sequence_mask(num_valid, max_detections)
  valid_float = tf.cast(valid, tf.float32)
  multiclass = tf.gather(probabilities, roi_indices, batch_dims=1)
  detections = {
      _DETECTIONS.detection_boxes:
          tf.gather(boxes, roi_indices, batch_dims=1)
          * valid_float[..., tf.newaxis],
      _DETECTIONS.detection_scores:
          tf.gather(multiclass, class_indices, batch_dims=2) * valid_float,
      _DETECTIONS.detection_classes:
          tf.cast(class_indices + 1, tf.float32) * valid_float,
      _DETECTIONS.detection_multiclass_scores:
          multiclass * valid_float[..., tf.newaxis],
      _DETECTIONS.num_detections: tf.cast(num_valid, tf.float32),
  }
  return Selection(detections, roi_indices, class_indices, valid)
