"""Relation heat maps (CAM, paper 4.4): per actor and per class.

The classifier weights that multiply f_RN, applied as a 1 x 1 convolution to
the relation map before average pooling, give a map per actor and per class
(class activation mapping, Zhou et al. 2016). Since f_RN is the spatial mean
of the relation map and the classifier is linear, the CAM averaged over
locations is exactly the relation part of the class logit (without the
bias). `detection_heatmaps` picks, per detection, the map of its proposal
and top class. Drawing them on frames is `acrn_tf.visualization.heatmaps`.
"""

import tensorflow as tf


def class_activation_maps(relation_maps: tf.Tensor,
                          relation_kernel: tf.Tensor) -> tf.Tensor:
  """Per-class heat maps of each actor's relation map.

  Args:
    relation_maps: float32 [batch, num_boxes, h, w, d] (or [batch,
      num_boxes, t, h, w, d], averaged over t first), the relation map
      before average pooling.
    relation_kernel: float32 [d, num_logits], the rows of the classifier's
      kernel that multiply f_RN.

  Returns:
    float32 [batch, num_boxes, h, w, num_logits]; its mean over h and w is
    f_RN @ relation_kernel.

  Raises:
    ValueError: the channels of the two do not match or a rank is wrong.
  """
  if relation_maps.shape.rank == 6:
    relation_maps = tf.reduce_mean(relation_maps, axis=2)
  if relation_maps.shape.rank != 5:
    raise ValueError('relation_maps must be [batch, num_boxes, (t,) h, w, d], '
                     f'got shape {relation_maps.shape}.')
  if (relation_kernel.shape.rank != 2 or
      relation_kernel.shape[0] != relation_maps.shape[-1]):
    raise ValueError(f'relation_kernel must be [{relation_maps.shape[-1]}, '
                     f'num_logits], got shape {relation_kernel.shape}.')
  # float32 like the classifier, whatever the maps' (mixed) precision.
  return tf.einsum('brhwd,dk->brhwk', tf.cast(relation_maps, tf.float32),
                   tf.cast(relation_kernel, tf.float32))


def detection_heatmaps(cams: tf.Tensor, box_indices: tf.Tensor,
                       logit_indices: tf.Tensor) -> tf.Tensor:
  """Each detection's heat map: its proposal's CAM for its class.

  Args:
    cams: float32 [batch, num_boxes, h, w, num_logits] from
      `class_activation_maps`.
    box_indices: int32 [batch, max_detections], the proposal each detection
      came from; negative for padded detections.
    logit_indices: int32 [batch, max_detections], the logit column of each
      detection's class (e.g. the label-map id for logits with a background
      column, id - 1 without).

  Returns:
    float32 [batch, max_detections, h, w]; zeros for padded detections.
  """
  box_indices = tf.cast(box_indices, tf.int32)
  logit_indices = tf.cast(logit_indices, tf.int32)
  valid = box_indices >= 0
  num_logits = tf.shape(cams)[-1]
  # [batch, num_boxes, num_logits, h, w]: gather (box, logit) pairs.
  per_logit = tf.transpose(cams, [0, 1, 4, 2, 3])
  indices = tf.stack([tf.maximum(box_indices, 0),
                      tf.clip_by_value(logit_indices, 0, num_logits - 1)],
                     axis=-1)
  heatmaps = tf.gather_nd(per_logit, indices, batch_dims=1)
  return tf.where(valid[..., None, None], heatmaps, tf.zeros_like(heatmaps))
