"""Tests of ACRNMetaArch: relation modules in the Base-Model, heat maps."""

import numpy as np
import pytest

from acrn_tf.core import standard_fields as fields
from acrn_tf.meta_architectures import acrn_meta_arch
from acrn_tf.relation import acrn
from tests.meta_architectures import model_fixtures

_P = fields.PredictionFields
_D = fields.DetectionResultFields
_L = fields.LossFields


@pytest.fixture(scope='module')
def acrn_model():
  return model_fixtures.build_model('acrn')


def test_relation_features_join_the_classifier_input(acrn_model):
  batch = model_fixtures.two_clip_batch()
  predictions = acrn_model.predict(acrn_model.preprocess(batch),
                                   training=True, groundtruth=batch)
  # f_a and f_RN: Mixed_5c at depth multiplier 0.25 has 256 channels each.
  assert predictions[_P.actor_features].shape == (2, 8, 256)
  assert predictions[_P.relation_features].shape == (2, 8, 256)
  # The relation map: F's 4 x 4 grid, then Mixed_5b/5c.
  assert predictions[_P.relation_maps].shape == (2, 8, 4, 4, 256)
  assert acrn_model.classifier.kernel.shape == (512, 3)
  np.testing.assert_allclose(
      predictions[_P.relation_features].numpy(),
      predictions[_P.relation_maps].numpy().mean(axis=(2, 3)), atol=1e-5)


def test_heatmaps_are_the_cam_of_each_detections_class(acrn_model):
  batch = model_fixtures.two_clip_batch()
  predictions = acrn_model.predict(acrn_model.preprocess(batch))
  detections = acrn_model.postprocess(predictions)
  heatmaps = detections[_D.relation_heatmaps].numpy()
  assert heatmaps.shape == (2, 8, 4, 4)
  kernel = acrn_model.relation_kernel().numpy()
  maps = predictions[_P.relation_maps].numpy()
  logits = predictions[_P.class_logits].numpy()
  features = predictions[_P.actor_features].numpy()
  for b in range(2):
    num = int(detections[_D.num_detections][b])
    assert num > 0
    for d in range(num):
      cls = int(detections[_D.detection_classes][b, d]) - 1
      # Find the proposal: the one whose class scores this detection has.
      scores = detections[_D.detection_multiclass_scores][b, d].numpy()
      r = int(np.argmin(np.abs(1 / (1 + np.exp(-logits[b])) - scores)
                        .sum(-1)))
      np.testing.assert_allclose(heatmaps[b, d], maps[b, r] @ kernel[:, cls],
                                 rtol=1e-4, atol=1e-5)
      # The CAM's mean is the relation part of the logit (paper 4.4).
      full = acrn_model.classifier.kernel.numpy()
      bias = acrn_model.classifier.bias.numpy()
      np.testing.assert_allclose(
          heatmaps[b, d].mean() + features[b, r] @ full[:256, cls]
          + bias[cls], logits[b, r, cls], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(heatmaps[b, num:], 0)


def test_modules_without_relation_maps_give_no_heatmaps():
  model = model_fixtures.build_model('santoro')
  batch = model_fixtures.two_clip_batch()
  detections = model.postprocess(model.predict(model.preprocess(batch)))
  assert _D.relation_heatmaps not in detections
  assert detections[_D.detection_boxes].shape == (2, 8, 4)


def test_a_scene_endpoint_the_extractor_lacks_is_refused(acrn_model):
  module = acrn.ActorCentricRelation(
      relation_channels=8, scene_features=[('Mixed_3c', 1.0)],
      head_config={'depth_multiplier': 0.25, 'min_depth': 8})
  with pytest.raises(ValueError, match=r"reads scene maps at \['Mixed_3c'\]"):
    acrn_meta_arch.ACRNMetaArch(
        relation_module=module,
        feature_extractor=acrn_model.feature_extractor,
        actor_detector=acrn_model.actor_detector,
        actor_head=acrn_model.actor_head, num_classes=3)


@pytest.mark.parametrize('relation', ['resize_concat', 'santoro', 'acrn'])
def test_every_relation_module_overfits_a_two_clip_batch(relation):
  model = model_fixtures.build_model(relation)
  assert isinstance(model, acrn_meta_arch.ACRNMetaArch)
  history = model_fixtures.train_steps(
      model, model_fixtures.two_clip_batch(), 80, learning_rate=0.1)
  first = history[0][_L.classification]
  last = min(h[_L.classification] for h in history[-5:])
  assert last < first / 10, (first, last)


def test_a_slim_warm_start_also_restores_the_relation_head(acrn_model):
  slim = acrn_model.restore_from_objects('SLIM_S3DG')
  assert list(slim) == ['rgb_tower', 'actor_head', 'relation_head']
  assert slim['relation_head'] is acrn_model.relation_module.relation_head
  assert 'relation_head' not in acrn_model.restore_from_objects('RESNET')
  santoro = model_fixtures.build_model('santoro')
  assert santoro.relation_module.relation_head is None
  assert list(santoro.restore_from_objects('SLIM_S3DG')) == [
      'rgb_tower', 'actor_head']
