"""ACRNMetaArch: the Base-Model with a relation module (paper 3.2, table 1a).

The relation module (`acrn_tf.relation`, built by `relation_builder`) plugs
into `VideoFasterRCNN`'s extension points: it may replace each actor's crop
before the action head (Resize+Concat), and it gives relation features f_RN
that the classifier reads beside the actor feature f_a (Santoro, ACRN). For
modules with a spatial relation map (ACRN), `postprocess` also returns a
class activation heat map per detection (paper 4.4): the classifier's rows
that multiply f_RN, applied as a 1 x 1 convolution to the relation map
before pooling, taken at the detection's class.
"""

from typing import Any, Dict

import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from acrn_tf.meta_architectures import video_faster_rcnn
from acrn_tf.relation import heatmaps
from acrn_tf.relation import relation_module as relation_lib


class ACRNMetaArch(video_faster_rcnn.VideoFasterRCNN):
  """`VideoFasterRCNN` + a relation module between the actor and the scene."""

  def __init__(self, relation_module: relation_lib.RelationModule, **kwargs):
    """Wires the relation module into the Base-Model.

    Args:
      relation_module: the `RelationModule` (its scene endpoints must be
        flattened by the feature extractor).
      **kwargs: `VideoFasterRCNN` arguments.

    Raises:
      ValueError: the feature extractor does not produce a scene endpoint
        the relation module reads.
    """
    super().__init__(**kwargs)
    self.relation_module = relation_module
    available = set(self.feature_extractor.get_config().get(
        'scene_endpoints', ())) | {self.feature_extractor_endpoint}
    missing = [e for e in relation_module.scene_endpoints
               if e not in available]
    if missing:
      raise ValueError(
          f'relation module {relation_module.name!r} reads scene maps at '
          f'{missing}, which the feature extractor does not produce (it '
          f'produces {sorted(available)}).')

  @property
  def has_heatmaps(self) -> bool:
    return self.relation_module.has_relation_maps

  def restore_from_objects(self, checkpoint_type: str) -> Dict[str, Any]:
    """`VideoFasterRCNN.restore_from_objects`; SLIM_S3DG also restores the
    relation module's own Mixed_5b/5c ('relation_head'), if it has one:
    paper 4.1 starts it from the RGB stream's, as the actor head."""
    objects = super().restore_from_objects(checkpoint_type)
    relation_head = self.relation_module.relation_head
    if checkpoint_type == 'SLIM_S3DG' and relation_head is not None:
      objects['relation_head'] = relation_head
    return objects

  def _head_inputs(self, roi_crops, rois_normalized, feature_maps, training):
    return self.relation_module.head_inputs(roi_crops, rois_normalized,
                                            feature_maps, training=training)

  def _relation_outputs(self, actor_features, rois_normalized, feature_maps,
                        training) -> relation_lib.RelationOutputs:
    return self.relation_module(actor_features, rois_normalized,
                                feature_maps, training=training)

  def relation_kernel(self) -> tf.Tensor:
    """The classifier rows that multiply f_RN, [d_RN, num_logits]."""
    channels = self.relation_module.output_channels
    return self.classifier.kernel[-channels:]

  def _extra_detection_outputs(self, predictions, roi_indices, class_indices,
                               valid) -> Dict[str, tf.Tensor]:
    """relation_heatmaps [B, max_detections, h, w] for relation-map modules.

    Each detection's map is its proposal's CAM for its (top) class; padded
    detections get zeros.
    """
    maps = predictions.get(fields.PredictionFields.relation_maps)
    if maps is None:
      return {}
    cams = heatmaps.class_activation_maps(maps, self.relation_kernel())
    logit_offset = (1 if self.label_mode == video_faster_rcnn.SINGLE_LABEL
                    else 0)
    box_indices = tf.where(valid, roi_indices, -1)
    return {
        fields.DetectionResultFields.relation_heatmaps:
            heatmaps.detection_heatmaps(cams, box_indices,
                                        class_indices + logit_offset),
    }
