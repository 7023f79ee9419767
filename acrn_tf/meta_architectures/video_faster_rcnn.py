"""VideoFasterRCNN: the paper's Base-Model in the OD API's DetectionModel shape.

preprocess -> predict -> loss | postprocess, each callable alone, tensor dicts
keyed by `acrn_tf.core.standard_fields`. The model wires parts and holds none
of their logic: S3D-G features and temporal flattening
(`models.video_feature_extractor`), the keyframe actor RPN
(`models.keyframe_actor_detector`), the seeded ROI sampler (`roi_sampler`),
Model Garden's ROI aligner, the actor feature tower (`actor_feature_tower`),
a classifier and a box regressor, and the detections' NMS
(`detection_selection`).

Randomness in training (ROI sampling, RPN anchor sampling, dropout) is
stateless: it is drawn from the `seed` given to `predict` (the trainer passes
(train_config.seed, global step)), so a job resumed from a checkpoint trains
exactly as the job that was never stopped.

Extension points for relation modules (`ACRNMetaArch` overrides them):
  * `_head_inputs`: may replace each actor's crop before the head.
  * `_relation_outputs`: relation features f_RN the classifier reads beside
    f_a, and relation maps for heat maps.
  * `_extra_detection_outputs`: extra postprocess outputs per detection.
"""

from typing import Any, Dict, Mapping, Optional

import tensorflow as tf
import tf_keras
from official.vision.losses import maskrcnn_losses
from official.vision.modeling.layers import roi_aligner
from official.vision.ops import box_ops

from acrn_tf.core import standard_fields as fields
from acrn_tf.core import stateless_sampling
from acrn_tf.meta_architectures import actor_feature_tower
from acrn_tf.meta_architectures import detection_selection
from acrn_tf.meta_architectures import roi_sampler as roi_sampler_lib
from acrn_tf.relation import relation_module

MULTI_LABEL = 'multi_label'
SINGLE_LABEL = 'single_label'
BOX_CODER_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
_SAMPLED = fields.PredictionFields.sampled_targets
_TARGETS = fields.SampledTargetFields
# Independent random streams folded into the step seed.
_ROI_SAMPLING_STREAM = 1
_RPN_SAMPLING_STREAM = 2
_DROPOUT_STREAM = 3
# Under a mixed-precision policy the layers doing box arithmetic (ROI
# sampling and alignment) and the classifier and box regressor keep float32:
# box coordinates, logits and box encodings are float32, and so are the
# losses, sigmoid/softmax, decoding and NMS computed from them.
_FLOAT32 = 'float32'


class VideoFasterRCNN(tf_keras.Model):
  """Actor RPN on the keyframe + S3D-G action head on F (paper 3.1)."""

  def __init__(self,
               feature_extractor,
               actor_detector,
               actor_head: actor_feature_tower.ActorFeatureTower,
               num_classes: int,
               label_mode: str = MULTI_LABEL,
               roi_crop_size: int = 7,
               num_sampled_rois: int = 64,
               foreground_fraction: float = 0.25,
               foreground_iou_threshold: float = 0.5,
               background_iou_high_threshold: float = 0.5,
               background_iou_low_threshold: float = 0.0,
               mix_groundtruth_boxes: bool = True,
               box_regression: bool = True,
               dropout_keep_probability: float = 1.0,
               loss_weights: Optional[Mapping[str, float]] = None,
               max_detections: int = 50,
               score_threshold: float = 0.0,
               nms_iou_threshold: float = 0.5,
               use_xla: bool = False,
               **kwargs):
    """Wires the parts.

    Args:
      feature_extractor: `VideoFeatureExtractor` (F and scene maps).
      actor_detector: `KeyframeActorDetector` (ResNet + RPN).
      actor_head: `ActorFeatureTower` (crop -> Mixed_5b/5c -> f_a).
      num_classes: number of action classes (label-map ids 1..num_classes).
      label_mode: MULTI_LABEL (sigmoid per class) or SINGLE_LABEL (softmax
        with background).
      roi_crop_size: ROI-align output size on F.
      num_sampled_rois, foreground_fraction, foreground_iou_threshold,
        background_iou_high_threshold, background_iou_low_threshold,
        mix_groundtruth_boxes: ROI sampling for training
        (`roi_sampler.SeededROISampler`).
      box_regression: predict class-agnostic box offsets.
      dropout_keep_probability: dropout before the classifier (stateless,
        drawn from the training step's seed).
      loss_weights: weights by `LossFields` name (default 1 each).
      max_detections, score_threshold, nms_iou_threshold: postprocess.
      use_xla: compile the train and inference functions with XLA.
      **kwargs: keyword arguments of `tf_keras.Model`.
    """
    super().__init__(**kwargs)
    if label_mode not in (MULTI_LABEL, SINGLE_LABEL):
      raise ValueError(f'label_mode must be {MULTI_LABEL!r} or '
                       f'{SINGLE_LABEL!r}, got {label_mode!r}')
    for name, value in (('num_classes', num_classes),
                        ('roi_crop_size', roi_crop_size),
                        ('num_sampled_rois', num_sampled_rois)):
      if value < 1:
        raise ValueError(f'{name} must be >= 1, got {value}')
    if not 0.0 < dropout_keep_probability <= 1.0:
      raise ValueError('dropout_keep_probability must be in (0, 1], got '
                       f'{dropout_keep_probability}')
    self.feature_extractor = feature_extractor
    self.actor_detector = actor_detector
    self.actor_head = actor_head
    self._num_classes = num_classes
    self._label_mode = label_mode
    self._box_regression = box_regression
    self._max_detections = max_detections
    self._score_threshold = score_threshold
    self._nms_iou_threshold = nms_iou_threshold
    self._use_xla = use_xla
    self._loss_weights = dict(loss_weights or {})
    self.roi_sampler = roi_sampler_lib.SeededROISampler(
        mix_gt_boxes=mix_groundtruth_boxes,
        num_sampled_rois=num_sampled_rois,
        foreground_fraction=foreground_fraction,
        foreground_iou_threshold=foreground_iou_threshold,
        background_iou_high_threshold=background_iou_high_threshold,
        background_iou_low_threshold=background_iou_low_threshold,
        dtype=_FLOAT32)
    self.roi_aligner = roi_aligner.MultilevelROIAligner(
        crop_size=roi_crop_size, sample_offset=0.5, dtype=_FLOAT32)
    num_logits = num_classes + (1 if label_mode == SINGLE_LABEL else 0)
    self._dropout_rate = 1.0 - dropout_keep_probability
    self.classifier = tf_keras.layers.Dense(
        num_logits, name='classifier', dtype=_FLOAT32,
        kernel_initializer=tf_keras.initializers.RandomNormal(stddev=0.01))
    self.box_regressor = (tf_keras.layers.Dense(
        4, name='box_regressor', dtype=_FLOAT32,
        kernel_initializer=tf_keras.initializers.RandomNormal(stddev=0.001))
                          if box_regression else None)
    self._box_loss = maskrcnn_losses.FastrcnnBoxLoss(
        huber_loss_delta=1.0, class_agnostic_bbox_pred=True)

  @property
  def num_classes(self) -> int:
    return self._num_classes

  @property
  def label_mode(self) -> str:
    return self._label_mode

  @property
  def use_xla(self) -> bool:
    return self._use_xla

  def restore_from_objects(self, checkpoint_type: str) -> Dict[str, Any]:
    """The parts of the model a warm start of `checkpoint_type` restores.

    As the OD API's `restore_from_objects`: the warm start reads the
    checkpoint into these objects and nothing else (call the model once
    first, so they have their variables).

    Args:
      checkpoint_type: a `train_config` FineTuneCheckpointType name.

    Returns:
      dict name -> object. FULL: {'model': this model}. SHARED_PARTS: the
      `model`'s children every model has, {'feature_extractor',
      'actor_detector', 'actor_head'}. RESNET: {'backbone': the actor
      detector's ResNet}. SLIM_S3DG: the S3D-G parts, each a slim-named
      `S3DG` or `S3DGHead`: 'rgb_tower' and 'flow_tower' (those the model
      has) and 'actor_head' (its Mixed_5b/5c); `ACRNMetaArch` adds the
      relation module's 'relation_head' if it has one.

    Raises:
      ValueError: an unknown type.
    """
    if checkpoint_type == 'FULL':
      return {'model': self}
    if checkpoint_type == 'SHARED_PARTS':
      return {'feature_extractor': self.feature_extractor,
              'actor_detector': self.actor_detector,
              'actor_head': self.actor_head}
    if checkpoint_type == 'RESNET':
      return {'backbone': self.actor_detector.backbone}
    if checkpoint_type == 'SLIM_S3DG':
      parts = {f'{stream}_tower': tower for stream, tower in
               self.feature_extractor.towers.items()}
      parts['actor_head'] = self.actor_head.head
      return parts
    raise ValueError(f'unknown warm-start checkpoint type {checkpoint_type!r}'
                     ': expected FULL, SHARED_PARTS, RESNET or SLIM_S3DG')

  # ---------------------------------------------------------------- stages

  def preprocess(self, inputs: Mapping[str, tf.Tensor]
                 ) -> Dict[str, tf.Tensor]:
    """Scales the clip and picks the keyframe.

    Args:
      inputs: dict with InputDataFields.frames uint8/float [B, T, H, W, 3]
        in [0, 255], optionally .flow float32 [B, T, H, W, 2] (pixels) and
        .keyframe_index int32 [B] (default T // 2); other keys pass through.

    Returns:
      A copy of `inputs` where frames are in [-1, 1], flow is scaled for the
      flow tower, and InputDataFields.keyframe is the normalised keyframe at
      the detector's input size.
    """
    outputs = dict(inputs)
    frames = tf.cast(inputs[fields.InputDataFields.frames], tf.float32)
    num_frames = tf.shape(frames)[1]
    if fields.InputDataFields.keyframe_index in inputs:
      keyframe_index = tf.cast(inputs[fields.InputDataFields.keyframe_index],
                               tf.int32)
    else:
      keyframe_index = tf.fill([tf.shape(frames)[0]], num_frames // 2)
    keyframe = tf.gather(frames, keyframe_index, axis=1, batch_dims=1)
    keyframe = tf.image.resize(keyframe, self.actor_detector.image_size)
    outputs[fields.InputDataFields.keyframe] = (
        self.actor_detector.normalize_image(keyframe))
    outputs[fields.InputDataFields.frames] = (
        self.feature_extractor.preprocess_rgb(frames))
    if fields.InputDataFields.flow in inputs:
      outputs[fields.InputDataFields.flow] = (
          self.feature_extractor.preprocess_flow(
              tf.cast(inputs[fields.InputDataFields.flow], tf.float32)))
    return outputs

  def predict(self, preprocessed: Mapping[str, tf.Tensor],
              training: bool = False,
              groundtruth: Optional[Mapping[str, tf.Tensor]] = None,
              seed: Optional[tf.Tensor] = None
              ) -> Dict[str, tf.Tensor]:
    """Runs the detector and the action head.

    Args:
      preprocessed: `preprocess` output.
      training: training mode; ROIs are sampled against `groundtruth`.
      groundtruth: dict with InputDataFields.groundtruth_boxes [B, M, 4]
        normalised, .groundtruth_classes [B, M, C] multi-hot and
        .groundtruth_valid [B, M]; required when training.
      seed: int32/int64 [2] stateless seed of the training step's random
        draws (ROI and RPN anchor sampling, dropout); the trainer passes
        (train_config.seed, global step). Default
        `stateless_sampling.DEFAULT_SEED`. Unused in inference.

    Returns:
      A dict keyed by PredictionFields (plus the RPN outputs and, in
      training, the seed for `loss`). proposal_boxes are absolute pixels of
      the detector's image.
    """
    rgb = preprocessed.get(fields.InputDataFields.frames)
    flow = preprocessed.get(fields.InputDataFields.flow)
    features = self.feature_extractor(rgb=rgb, flow=flow, training=training)
    feature_map = features[fields.PredictionFields.feature_map]
    feature_maps = dict(features[fields.PredictionFields.scene_feature_maps])
    feature_maps[self.feature_extractor_endpoint] = feature_map

    detections = self.actor_detector(
        preprocessed[fields.InputDataFields.keyframe], training=training)
    rois = detections[fields.PredictionFields.proposal_boxes]
    predictions = {
        fields.PredictionFields.frame_shape: tf.shape(
            rgb if rgb is not None else flow)[2:4],
        fields.PredictionFields.feature_map: feature_map,
        fields.PredictionFields.scene_feature_maps: feature_maps,
        fields.PredictionFields.rpn_outputs: detections,
    }
    if training:
      if groundtruth is None:
        raise ValueError('predict(training=True) needs the groundtruth dict')
      seed = stateless_sampling.as_seed(seed, 'predict seed')
      predictions[fields.PredictionFields.sampling_seed] = seed
      rois, targets = self._sample_rois(
          rois, groundtruth,
          stateless_sampling.fold_in(seed, _ROI_SAMPLING_STREAM))
      predictions[_SAMPLED] = targets
    height, width = self.actor_detector.image_size
    rois_normalized = box_ops.normalize_boxes(rois, [height, width])

    actor_features = self.actor_features(
        feature_maps, rois_normalized,
        predictions[fields.PredictionFields.frame_shape], training)
    relation = self._relation_outputs(actor_features, rois_normalized,
                                      feature_maps, training)
    classifier_inputs = actor_features
    if relation.relation_features is not None:
      classifier_inputs = tf.concat(
          [actor_features, relation.relation_features], axis=-1)
    if training and self._dropout_rate > 0.0:
      classifier_inputs = tf.nn.experimental.stateless_dropout(
          classifier_inputs, rate=self._dropout_rate,
          seed=stateless_sampling.fold_in(seed, _DROPOUT_STREAM))
    predictions.update({
        fields.PredictionFields.proposal_boxes: rois,
        fields.PredictionFields.num_proposals: tf.fill(
            [tf.shape(rois)[0]], tf.shape(rois)[1]),
        fields.PredictionFields.actor_features: actor_features,
        fields.PredictionFields.class_logits: self.classifier(
            classifier_inputs),
    })
    if relation.relation_features is not None:
      predictions[fields.PredictionFields.relation_features] = (
          relation.relation_features)
    if relation.relation_maps is not None:
      predictions[fields.PredictionFields.relation_maps] = (
          relation.relation_maps)
    if self.box_regressor is not None:
      predictions[fields.PredictionFields.box_encodings] = (
          self.box_regressor(classifier_inputs))
    return predictions

  def actor_features(self, feature_maps: Mapping[str, tf.Tensor],
                     boxes: tf.Tensor, frame_shape: tf.Tensor,
                     training: bool = False) -> tf.Tensor:
    """f_a of given boxes: their crops of F through the actor head.

    What `predict` computes for its ROIs, for any boxes (e.g. groundtruth).

    Args:
      feature_maps: endpoint -> [B, h, w, c] scene maps, F at
        `feature_extractor_endpoint` among them (`predict`'s
        scene_feature_maps).
      boxes: float32 [B, N, 4] normalised [ymin, xmin, ymax, xmax].
      frame_shape: int [2], the frames' (height, width) F was computed on.
      training: training mode of the head.

    Returns:
      [B, N, d_a].

    Raises:
      KeyError: feature_maps lacks the model's feature endpoint.
    """
    endpoint = self.feature_extractor_endpoint
    if endpoint not in feature_maps:
      raise KeyError(f'actor_features: feature_maps has {sorted(feature_maps)}'
                     f', not F at the feature endpoint {endpoint!r}')
    frame_size = tf.cast(frame_shape, tf.float32)
    feature_map = feature_maps[endpoint]
    crops = self.roi_aligner({'4': feature_map},
                             boxes * tf.tile(frame_size, [2]))
    head_inputs = self._head_inputs(crops, boxes, feature_maps, training)
    return self.actor_head(head_inputs, training=training)

  @property
  def feature_extractor_endpoint(self) -> str:
    return self.feature_extractor.get_config().get('feature_endpoint',
                                                   'Mixed_4f')

  def _groundtruth_absolute(self, groundtruth):
    height, width = self.actor_detector.image_size
    boxes = box_ops.denormalize_boxes(
        tf.cast(groundtruth[fields.InputDataFields.groundtruth_boxes],
                tf.float32), [height, width])
    valid = tf.cast(groundtruth[fields.InputDataFields.groundtruth_valid],
                    tf.bool)
    return boxes, valid

  def _sample_rois(self, rois, groundtruth, seed):
    """Samples ROIs and gives each its multi-hot labels and box targets."""
    gt_boxes, valid = self._groundtruth_absolute(groundtruth)
    rois, matched_boxes, matched_indices = self.roi_sampler(
        tf.stop_gradient(rois), gt_boxes, valid, seed=seed)
    foreground = matched_indices >= 0
    gt_classes = tf.cast(
        groundtruth[fields.InputDataFields.groundtruth_classes], tf.float32)
    class_targets = tf.gather(gt_classes, tf.maximum(matched_indices, 0),
                              batch_dims=1)
    class_targets *= tf.cast(foreground, tf.float32)[..., tf.newaxis]
    box_targets = box_ops.encode_boxes(matched_boxes, rois,
                                       weights=BOX_CODER_WEIGHTS)
    box_targets = tf.where(foreground[..., tf.newaxis], box_targets, 0.0)
    return tf.stop_gradient(rois), {
        _TARGETS.class_targets: tf.stop_gradient(class_targets),
        _TARGETS.foreground: foreground,
        _TARGETS.box_targets: tf.stop_gradient(box_targets),
    }

  def loss(self, predictions: Mapping[str, tf.Tensor],
           groundtruth: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Loss terms keyed by LossFields, weighted, and their total.

    Args:
      predictions: `predict(training=True)` output; its seed also draws the
        RPN's anchor minibatch.
      groundtruth: the ground truth dict given to `predict`.
    """
    gt_boxes, valid = self._groundtruth_absolute(groundtruth)
    seed = stateless_sampling.as_seed(
        predictions.get(fields.PredictionFields.sampling_seed))
    objectness, rpn_localization = self.actor_detector.losses(
        predictions[fields.PredictionFields.rpn_outputs], gt_boxes, valid,
        seed=stateless_sampling.fold_in(seed, _RPN_SAMPLING_STREAM))
    targets = predictions[_SAMPLED]
    logits = predictions[fields.PredictionFields.class_logits]
    class_targets = targets[_TARGETS.class_targets]
    foreground = targets[_TARGETS.foreground]
    if self._label_mode == MULTI_LABEL:
      per_roi = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
          labels=class_targets, logits=logits), axis=-1)
    else:
      label = tf.where(foreground,
                       tf.argmax(class_targets, axis=-1, output_type=tf.int32)
                       + 1, 0)
      per_roi = tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels=label, logits=logits)
    classification = tf.reduce_mean(per_roi)
    terms = {
        fields.LossFields.rpn_objectness: objectness,
        fields.LossFields.rpn_localization: rpn_localization,
        fields.LossFields.classification: classification,
    }
    if self.box_regressor is not None:
      terms[fields.LossFields.localization] = self._box_loss(
          predictions[fields.PredictionFields.box_encodings],
          tf.cast(foreground, tf.int32), targets[_TARGETS.box_targets])
    terms = {name: value * self._loss_weights.get(name, 1.0)
             for name, value in terms.items()}
    regularization = (tf.add_n(self.losses) if self.losses
                      else tf.constant(0.0))
    terms[fields.LossFields.regularization] = regularization
    terms[fields.LossFields.total] = tf.add_n(list(terms.values()))
    return terms

  def class_probabilities(self, logits: tf.Tensor) -> tf.Tensor:
    """[..., num_classes] probabilities per label-map id (no background)."""
    if self._label_mode == MULTI_LABEL:
      return tf.sigmoid(logits)
    return tf.nn.softmax(logits)[..., 1:]

  def postprocess(self, predictions: Mapping[str, tf.Tensor],
                  true_image_shape: Optional[tf.Tensor] = None
                  ) -> Dict[str, tf.Tensor]:
    """Decoded, clipped, normalised detections keyed by DetectionResultFields.

    MULTI_LABEL: class-agnostic NMS on each box's best class score keeps the
    top `max_detections` boxes with every class score (AVA evaluation scores
    every class of every box). SINGLE_LABEL: per-class NMS over (box, class)
    pairs (`detection_selection.select`).

    Args:
      predictions: `predict` output.
      true_image_shape: int32 [B, 3] valid region of the frames (height,
        width, channels); boxes are clipped to it. Default: the whole frame.
    """
    height, width = self.actor_detector.image_size
    rois = predictions[fields.PredictionFields.proposal_boxes]
    boxes = rois
    if fields.PredictionFields.box_encodings in predictions:
      boxes = box_ops.decode_boxes(
          predictions[fields.PredictionFields.box_encodings], rois,
          weights=BOX_CODER_WEIGHTS)
    boxes = box_ops.normalize_boxes(boxes, [height, width])
    boxes = tf.clip_by_value(boxes, 0.0, 1.0)
    if true_image_shape is not None:
      # The valid region of the frames (the rest is padding), normalised.
      frame_shape = tf.cast(predictions[fields.PredictionFields.frame_shape],
                            tf.float32)
      valid_size = tf.cast(true_image_shape[:, :2], tf.float32) / frame_shape
      limits = tf.concat([valid_size, valid_size], axis=-1)[:, tf.newaxis]
      boxes = tf.minimum(boxes, limits)
    probabilities = self.class_probabilities(
        predictions[fields.PredictionFields.class_logits])
    selection = detection_selection.select(
        boxes, probabilities, self._label_mode == MULTI_LABEL,
        self._max_detections, self._nms_iou_threshold, self._score_threshold)
    detections = dict(selection.detections)
    detections.update(self._extra_detection_outputs(
        predictions, selection.roi_indices, selection.class_indices,
        selection.valid))
    return detections

  # ------------------------------------------------------ extension points

  def _head_inputs(self, roi_crops, rois_normalized, feature_maps, training):
    """The actor head's input per ROI (the Base-Model: the crop itself)."""
    del rois_normalized, feature_maps, training
    return roi_crops

  def _relation_outputs(self, actor_features, rois_normalized, feature_maps,
                        training) -> relation_module.RelationOutputs:
    """Relation features and maps (the Base-Model has none)."""
    del actor_features, rois_normalized, feature_maps, training
    return relation_module.RelationOutputs()

  def _extra_detection_outputs(self, predictions, roi_indices, class_indices,
                               valid) -> Dict[str, tf.Tensor]:
    """Extra per-detection outputs of postprocess (none here)."""
    del predictions, roi_indices, class_indices, valid
    return {}

  def call(self, inputs, training=False):
    """preprocess -> predict -> postprocess (inference)."""
    predictions = self.predict(self.preprocess(inputs), training=training)
    return self.postprocess(predictions)
