"""Tests of the Base-Model (VideoFasterRCNN)."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from acrn_tf.meta_architectures import video_faster_rcnn
from tests.meta_architectures import model_fixtures

_P = fields.PredictionFields
_D = fields.DetectionResultFields
_L = fields.LossFields


@pytest.fixture(scope='module')
def base_model():
  return model_fixtures.build_model('none')


def test_predict_and_loss_shapes_in_training(base_model):
  batch = model_fixtures.two_clip_batch()
  predictions = base_model.predict(base_model.preprocess(batch),
                                   training=True, groundtruth=batch)
  # 8 sampled ROIs per clip, 3 classes (multi-label: no background).
  assert predictions[_P.class_logits].shape == (2, 8, 3)
  assert predictions[_P.box_encodings].shape == (2, 8, 4)
  assert predictions[_P.proposal_boxes].shape == (2, 8, 4)
  # F: Mixed_4f at stride 16 of 64 x 64, 832 x 0.25 channels.
  assert predictions[_P.feature_map].shape == (2, 4, 4, 208)
  assert predictions[_P.actor_features].shape == (2, 8, 256)
  losses = base_model.loss(predictions, batch)
  assert set(losses) == {_L.rpn_objectness, _L.rpn_localization,
                         _L.classification, _L.localization,
                         _L.regularization, _L.total}
  total = sum(float(v) for k, v in losses.items() if k != _L.total)
  assert float(losses[_L.total]) == pytest.approx(total, rel=1e-5)
  assert all(np.isfinite(float(v)) for v in losses.values())


@pytest.mark.parametrize('relation', ['none', 'resize_concat'])
def test_actor_features_of_given_boxes_are_predicts_for_its_rois(relation):
  # resize_concat replaces each crop by [crop; resized scene] before the
  # head (_head_inputs): actor_features goes through it as predict does.
  # In training mode: an untrained head in inference mode (initial batch
  # norm statistics) gives near-zero features for every box.
  model = model_fixtures.build_model(relation)
  batch = model_fixtures.two_clip_batch()
  predictions = model.predict(model.preprocess(batch), training=True,
                              groundtruth=batch)
  height, width = model.actor_detector.image_size
  rois = predictions[_P.proposal_boxes] / [height, width, height, width]
  features = model.actor_features(predictions[_P.scene_feature_maps], rois,
                                  predictions[_P.frame_shape], training=True)
  expected = predictions[_P.actor_features].numpy()
  assert expected.std(axis=1).mean() > 1e-3   # features differ by box
  np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
  # Other boxes, other features.
  other = model.actor_features(predictions[_P.scene_feature_maps],
                               rois[:, ::-1], predictions[_P.frame_shape],
                               training=True)
  np.testing.assert_allclose(other, expected[:, ::-1], rtol=1e-4, atol=1e-5)
  assert not np.allclose(other, expected, rtol=1e-4, atol=1e-5)


def test_actor_features_without_f_is_refused(base_model):
  with pytest.raises(KeyError, match=r"actor_features: feature_maps has "
                     r"\['Mixed_3c'\], not F at the feature endpoint "
                     r"'Mixed_4f'"):
    base_model.actor_features({'Mixed_3c': tf.zeros([1, 8, 8, 4])},
                              tf.zeros([1, 1, 4]), tf.constant([64, 64]))


def test_sampled_rois_take_the_matched_actors_labels(base_model):
  batch = model_fixtures.two_clip_batch()
  predictions = base_model.predict(base_model.preprocess(batch),
                                   training=True, groundtruth=batch)
  targets = predictions[_P.sampled_targets]
  rois = predictions[_P.proposal_boxes].numpy() / 64.0
  classes = targets[fields.SampledTargetFields.class_targets].numpy()
  foreground = targets[fields.SampledTargetFields.foreground].numpy()
  gt_boxes = batch[fields.InputDataFields.groundtruth_boxes].numpy()
  gt_classes = batch[fields.InputDataFields.groundtruth_classes].numpy()
  assert foreground.any()  # ground truth boxes are mixed in
  for b in range(2):
    for r in range(rois.shape[1]):
      if not foreground[b, r]:
        np.testing.assert_array_equal(classes[b, r], 0)
        continue
      ious = [_iou(rois[b, r], g) for g in gt_boxes[b]]
      assert max(ious) >= 0.5
      np.testing.assert_array_equal(classes[b, r],
                                    gt_classes[b, int(np.argmax(ious))])


def _training_outputs(model, batch, seed=None):
  predictions = model.predict(model.preprocess(batch), training=True,
                              groundtruth=batch, seed=seed)
  targets = predictions[_P.sampled_targets]
  return {
      'rois': predictions[_P.proposal_boxes].numpy(),
      'foreground': targets[fields.SampledTargetFields.foreground].numpy(),
      'logits': predictions[_P.class_logits].numpy(),
      'losses': {k: float(v) for k, v in
                 model.loss(predictions, batch).items()},
  }


def test_training_draws_are_keyed_on_the_seed(base_model):
  batch = model_fixtures.two_clip_batch()
  first = _training_outputs(base_model, batch, tf.constant([5, 1]))
  again = _training_outputs(base_model, batch, tf.constant([5, 1]))
  np.testing.assert_array_equal(first['rois'], again['rois'])
  np.testing.assert_array_equal(first['logits'], again['logits'])
  # The RPN's anchor sample (in the loss) follows the seed too.
  assert first['losses'] == again['losses']
  others = [_training_outputs(base_model, batch, tf.constant([5, step]))
            for step in (2, 3, 4)]
  assert any(not np.array_equal(first['rois'], o['rois']) for o in others)
  # No seed: the fixed default.
  default = _training_outputs(base_model, batch)
  np.testing.assert_array_equal(
      default['rois'],
      _training_outputs(base_model, batch, tf.constant([0, 0]))['rois'])


def test_dropout_is_stateless():
  model = model_fixtures.build_model(
      'none', extra_head='dropout_keep_probability: 0.5')
  batch = model_fixtures.two_clip_batch()
  seed = tf.constant([2, 3], tf.int64)
  first = model.predict(model.preprocess(batch), training=True,
                        groundtruth=batch, seed=seed)
  again = model.predict(model.preprocess(batch), training=True,
                        groundtruth=batch, seed=seed)
  np.testing.assert_array_equal(first[_P.class_logits],
                                again[_P.class_logits])
  # Dropout is on: the logits of the same ROIs differ from inference's.
  crops_logits = model.classifier(first[_P.actor_features])
  assert not np.allclose(first[_P.class_logits], crops_logits)


def _iou(a, b):
  inter_h = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  inter_w = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  inter = inter_h * inter_w
  area = lambda x: (x[2] - x[0]) * (x[3] - x[1])
  return inter / (area(a) + area(b) - inter)


def _handmade_predictions(logits):
  # Three proposals in the 64 x 64 detector image (absolute pixels): the
  # second overlaps the first with IoU 0.9; the third is apart.
  rois = tf.constant([[[0., 0., 32., 32.], [0., 0., 32., 28.8],
                       [32., 32., 64., 64.]]])
  return {
      _P.proposal_boxes: rois,
      _P.class_logits: tf.constant([logits], tf.float32),
      _P.frame_shape: tf.constant([64, 64]),
  }


def test_postprocess_multi_label_keeps_every_class_score(base_model):
  logits = [[3.0, -1.0, 0.5], [2.0, 1.0, -2.0], [-3.0, 0.0, 1.0]]
  detections = base_model.postprocess(_handmade_predictions(logits))
  assert detections[_D.detection_boxes].shape == (1, 8, 4)
  assert detections[_D.detection_multiclass_scores].shape == (1, 8, 3)
  # The second box is suppressed by the first (IoU 0.9 > 0.5).
  assert float(detections[_D.num_detections][0]) == 2
  np.testing.assert_allclose(detections[_D.detection_boxes][0, :2],
                             [[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], atol=1e-6)
  sigmoid = 1 / (1 + np.exp(-np.array(logits)))
  np.testing.assert_allclose(
      detections[_D.detection_multiclass_scores][0, :2],
      sigmoid[[0, 2]], rtol=1e-5)
  np.testing.assert_allclose(detections[_D.detection_scores][0, :2],
                             [sigmoid[0, 0], sigmoid[2, 2]], rtol=1e-5)
  np.testing.assert_array_equal(detections[_D.detection_classes][0, :3],
                                [1, 3, 0])
  np.testing.assert_array_equal(detections[_D.detection_boxes][0, 2:], 0)


def test_postprocess_single_label_is_per_class_nms():
  model = model_fixtures.build_model('none', label_mode='SINGLE_LABEL')
  # Logits have a background column first. Boxes 0 and 1 overlap but have
  # different classes: per-class NMS keeps both.
  logits = [[0.0, 5.0, 0.0, 0.0], [0.0, 0.0, 4.0, 0.0],
            [5.0, 0.0, 0.0, 0.0]]
  detections = model.postprocess(_handmade_predictions(logits))
  softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  scores = detections[_D.detection_scores][0].numpy()
  classes = detections[_D.detection_classes][0].numpy()
  boxes = detections[_D.detection_boxes][0].numpy()
  assert scores[0] == pytest.approx(softmax[0, 1], rel=1e-5)
  assert classes[0] == 1
  assert scores[1] == pytest.approx(softmax[1, 2], rel=1e-5)
  assert classes[1] == 2
  np.testing.assert_allclose(boxes[1], [0, 0, 0.5, 0.45], atol=1e-6)
  # Every (box, class) pair is a candidate, sorted by score.
  assert np.all(np.diff(scores[:int(detections[_D.num_detections][0])])
                <= 1e-7)
  assert detections[_D.detection_multiclass_scores].shape == (1, 8, 3)


def test_postprocess_clips_boxes_to_the_true_image(base_model):
  predictions = _handmade_predictions([[3.0, 0, 0], [0, 0, 0], [0, 0, 3.0]])
  detections = base_model.postprocess(
      predictions, true_image_shape=tf.constant([[64, 48, 3]]))
  boxes = detections[_D.detection_boxes][0].numpy()
  assert boxes[:, 3].max() == pytest.approx(0.75)


def test_frozen_batch_norm_is_unchanged_by_a_train_step():
  model = model_fixtures.build_model('none', frozen_batch_norm=True)
  batch = model_fixtures.two_clip_batch()
  model.predict(model.preprocess(batch), training=True, groundtruth=batch)
  # The pretrained parts' statistics (S3D-G, its head, the ResNet); the
  # RPN head is new and trains its batch norm.
  statistics = [v for v in model.variables
                if ('moving_mean' in v.name or 'moving_variance' in v.name)
                and 'rpn_head' not in v.name]
  assert len(statistics) > 50
  before = [v.numpy() for v in statistics]
  kernels_before = [v.numpy() for v in model.trainable_variables[:3]]
  model_fixtures.train_steps(model, batch, 1, eager=True)
  for value, variable in zip(before, statistics):
    np.testing.assert_array_equal(variable.numpy(), value,
                                  err_msg=variable.name)
  assert not any('moving' in v.name for v in model.trainable_variables)
  assert any(not np.array_equal(v.numpy(), k) for v, k in
             zip(model.trainable_variables[:3], kernels_before))


def test_training_without_groundtruth_is_refused(base_model):
  batch = model_fixtures.two_clip_batch()
  with pytest.raises(ValueError, match='needs the groundtruth'):
    base_model.predict(base_model.preprocess(batch), training=True)


def test_bad_label_mode_is_refused(base_model):
  with pytest.raises(ValueError, match='label_mode must be'):
    video_faster_rcnn.VideoFasterRCNN(
        base_model.feature_extractor, base_model.actor_detector,
        base_model.actor_head, num_classes=3, label_mode='softmax')


def test_overfits_a_two_clip_batch():
  model = model_fixtures.build_model('none')
  history = model_fixtures.train_steps(
      model, model_fixtures.two_clip_batch(), 50, learning_rate=0.1)
  first = history[0][_L.classification]
  last = min(h[_L.classification] for h in history[-5:])
  assert last < first / 10, (first, last)


def test_restore_from_objects_names_what_each_warm_start_restores(
    base_model):
  model = base_model
  assert model.restore_from_objects('FULL') == {'model': model}
  assert model.restore_from_objects('RESNET') == {
      'backbone': model.actor_detector.backbone}
  shared = model.restore_from_objects('SHARED_PARTS')
  assert shared == {'feature_extractor': model.feature_extractor,
                    'actor_detector': model.actor_detector,
                    'actor_head': model.actor_head}
  # RGB only, no relation module: the RGB tower and the actor head's blocks.
  assert model.restore_from_objects('SLIM_S3DG') == {
      'rgb_tower': model.feature_extractor.towers['rgb'],
      'actor_head': model.actor_head.head}
  with pytest.raises(ValueError, match="unknown warm-start checkpoint type "
                     "'UNSPECIFIED'"):
    model.restore_from_objects('UNSPECIFIED')
