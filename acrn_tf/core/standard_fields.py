"""Names of every key in the project's tensor dicts and TFRecords.

Tensor dicts are the contract between the data pipeline, the model, the
evaluators and the exporter. Every key lives here as a named constant; a
string-literal key anywhere else in the project is a bug.

Coordinates: boxes are ``[ymin, xmin, ymax, xmax]``, normalised to ``[0, 1]``
of the frame unless a field says ``absolute``. Class ids are label-map ids,
starting at 1 (0 is background); multi-hot class tensors have one column per
label-map id in ascending order, so column ``k`` is the k-th id.
"""


class SequenceExampleKeys:
  """Keys of the ``tf.train.SequenceExample`` that holds one keyframe.

  One record = one keyframe and the clip of frames around it.

  Context features (``tf.train.Features``):
    video_id: bytes, the source video's id (AVA ``video_id``, JHMDB
      ``class/video`` path, ...).
    keyframe_timestamp: float, seconds from the start of the source video.
    keyframe_frame_number: int64, 0-based frame index of the keyframe in the
      source video.
    keyframe_index: int64, 0-based index of the keyframe inside the clip.
    frame_height, frame_width: int64, size of the stored frames in pixels.
    num_frames: int64, number of frames in the clip.
    frame_stride: int64, source frames between two consecutive clip frames.
    fps: float, frame rate of the source video.
    frame_timestamps: float list, seconds of each clip frame in the source.
    box_ymin, box_xmin, box_ymax, box_xmax: float lists, the keyframe's actor
      boxes, normalised.
    box_track_id: int64 list, a person/track id per box (-1 if unknown).
    box_label_count: int64 list, the number of action labels of each box.
    box_label_id: int64 list, the action labels of all boxes, concatenated in
      box order (box i owns ``box_label_count[i]`` consecutive entries).
    flow_bound: float, the optical flow stored was clipped to
      ``[-flow_bound, flow_bound]`` pixels per frame and mapped linearly to
      ``[0, 255]``. Present only when the flow is stored.

  Feature lists (``tf.train.FeatureLists``), one entry per clip frame:
    frames_encoded: bytes, the JPEG-encoded RGB frame.
    flow_x_encoded, flow_y_encoded: bytes, the horizontal and vertical optical
      flow of the frame (from this frame to the next), each a quantised 8-bit
      grayscale JPEG. Present only when the flow is stored.
  """
  video_id = 'video/id'
  keyframe_timestamp = 'clip/keyframe/timestamp'
  keyframe_frame_number = 'clip/keyframe/frame_number'
  keyframe_index = 'clip/keyframe/index'
  frame_height = 'clip/frame/height'
  frame_width = 'clip/frame/width'
  num_frames = 'clip/num_frames'
  frame_stride = 'clip/frame_stride'
  fps = 'video/fps'
  frame_timestamps = 'clip/frame/timestamps'
  box_ymin = 'keyframe/bbox/ymin'
  box_xmin = 'keyframe/bbox/xmin'
  box_ymax = 'keyframe/bbox/ymax'
  box_xmax = 'keyframe/bbox/xmax'
  box_track_id = 'keyframe/bbox/track_id'
  box_label_count = 'keyframe/bbox/label/count'
  box_label_id = 'keyframe/bbox/label/id'
  flow_bound = 'clip/flow/bound'
  frames_encoded = 'frames/encoded'
  flow_x_encoded = 'flow/x/encoded'
  flow_y_encoded = 'flow/y/encoded'


class InputDataFields:
  """Keys of the tensor dict the input pipeline yields and the model reads.

  Shapes are per example; batched tensors have a leading batch dimension.

  Attributes:
    video_id: string scalar.
    keyframe_timestamp: float32 scalar, seconds.
    keyframe_index: int32 scalar, index of the keyframe in ``frames``.
    frames: float32 ``[num_frames, height, width, 3]`` RGB in ``[0, 255]``
      (uint8 before ``preprocess``).
    flow: float32 ``[num_frames, height, width, 2]`` optical flow (x, y) in
      pixels per frame, in the frame's current (possibly resized) scale.
    keyframe: float32 ``[height, width, 3]``, the keyframe of ``frames``
      (uint8 before ``preprocess``).
    original_frame_shape: int32 ``[2]``, height and width as stored.
    true_image_shape: int32 ``[3]``, height, width, 3 of the valid region of
      ``frames`` after resizing/padding.
    groundtruth_boxes: float32 ``[max_num_boxes, 4]`` normalised, padded.
    groundtruth_classes: float32 ``[max_num_boxes, num_classes]`` multi-hot.
    groundtruth_track_ids: int32 ``[max_num_boxes]``, -1 for padding.
    groundtruth_valid: bool ``[max_num_boxes]``, true for real boxes.
    num_groundtruth_boxes: int32 scalar.
  """
  video_id = 'video_id'
  keyframe_timestamp = 'keyframe_timestamp'
  keyframe_index = 'keyframe_index'
  frames = 'frames'
  flow = 'flow'
  keyframe = 'keyframe'
  original_frame_shape = 'original_frame_shape'
  true_image_shape = 'true_image_shape'
  groundtruth_boxes = 'groundtruth_boxes'
  groundtruth_classes = 'groundtruth_classes'
  groundtruth_track_ids = 'groundtruth_track_ids'
  groundtruth_valid = 'groundtruth_valid'
  num_groundtruth_boxes = 'num_groundtruth_boxes'


class PredictionFields:
  """Keys of the dict ``model.predict`` returns (consumed by loss/postprocess).

  Attributes:
    frame_shape: int32 ``[2]``, height and width of the clip's frames.
    feature_map: float32 ``[batch, h, w, c]``, the temporally flattened S3D-G
      map F at stride 16.
    scene_feature_maps: dict endpoint -> ``[batch, h', w', c']`` flattened
      maps used as relation scene context.
    rpn_box_encodings: dict level -> ``[batch, h_l, w_l, 4 * num_anchors]``.
    rpn_objectness_logits: dict level -> ``[batch, h_l, w_l, num_anchors]``.
    anchor_boxes: dict level -> ``[batch, h_l, w_l, 4 * num_anchors]`` absolute.
    proposal_boxes: float32 ``[batch, num_proposals, 4]`` absolute pixels of
      the keyframe, ``[ymin, xmin, ymax, xmax]``.
    proposal_scores: float32 ``[batch, num_proposals]``.
    num_proposals: int32 ``[batch]``.
    sampled_targets: dict of training targets of the sampled ROIs.
    actor_features: float32 ``[batch, num_proposals, 1024]`` (f_a).
    relation_features: float32 ``[batch, num_proposals, 1024]`` (f_RN).
    relation_maps: float32 ``[batch, num_proposals, h, w, c]`` before pooling.
    class_logits: float32 ``[batch, num_proposals, num_classes(+1)]``.
    box_encodings: float32 ``[batch, num_proposals, 4]``.
    rpn_outputs: the actor detector's dict (rpn_objectness_logits,
      rpn_box_encodings, anchor_boxes, proposal_boxes, proposal_scores),
      kept for the RPN loss.
    sampling_seed: int64 ``[2]``, the stateless seed of the training step's
      ROI and anchor sampling, kept for the loss.
  """
  frame_shape = 'frame_shape'
  feature_map = 'feature_map'
  scene_feature_maps = 'scene_feature_maps'
  rpn_box_encodings = 'rpn_box_encodings'
  rpn_objectness_logits = 'rpn_objectness_logits'
  anchor_boxes = 'anchor_boxes'
  proposal_boxes = 'proposal_boxes'
  proposal_scores = 'proposal_scores'
  num_proposals = 'num_proposals'
  sampled_targets = 'sampled_targets'
  actor_features = 'actor_features'
  relation_features = 'relation_features'
  relation_maps = 'relation_maps'
  class_logits = 'class_logits'
  box_encodings = 'box_encodings'
  rpn_outputs = 'rpn_outputs'
  sampling_seed = 'sampling_seed'


class SampledTargetFields:
  """Keys of PredictionFields.sampled_targets (the sampled ROIs' targets).

  Attributes:
    class_targets: float32 ``[batch, num_sampled, num_classes]`` multi-hot.
    foreground: bool ``[batch, num_sampled]``.
    box_targets: float32 ``[batch, num_sampled, 4]`` box encodings.
  """
  class_targets = 'class_targets'
  foreground = 'foreground'
  box_targets = 'box_targets'


class DetectionResultFields:
  """Keys of the dict ``model.postprocess`` and the exported model return.

  Attributes:
    detection_boxes: float32 ``[batch, max_detections, 4]`` normalised.
    detection_scores: float32 ``[batch, max_detections]``, score of the
      detection's top class.
    detection_classes: float32 ``[batch, max_detections]``, label-map id of
      the top class (float32 as in the OD API's serving outputs).
    detection_multiclass_scores: float32
      ``[batch, max_detections, num_classes]``, a score per label-map id.
    num_detections: float32 ``[batch]``.
    relation_heatmaps: float32 ``[batch, max_detections, h, w]``, the CAM of
      the relation branch for the detection's top class (ACRN only).
  """
  detection_boxes = 'detection_boxes'
  detection_scores = 'detection_scores'
  detection_classes = 'detection_classes'
  detection_multiclass_scores = 'detection_multiclass_scores'
  num_detections = 'num_detections'
  relation_heatmaps = 'relation_heatmaps'


class LossFields:
  """Names of the loss terms ``model.loss`` returns (also TensorBoard tags)."""
  rpn_objectness = 'Loss/RPNLoss/objectness'
  rpn_localization = 'Loss/RPNLoss/localization'
  classification = 'Loss/BoxClassifierLoss/classification'
  localization = 'Loss/BoxClassifierLoss/localization'
  regularization = 'Loss/regularization'
  total = 'Loss/total_loss'
