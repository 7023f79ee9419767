"""Tests of the keyframe actor detector's RPN targets and losses."""

import numpy as np
import pytest
import tensorflow as tf
from official.vision.ops import anchor

from acrn_tf.models import keyframe_actor_detector

_IMAGE_SIZE = (64, 64)
_BATCH_PER_IMAGE = 8
_POSITIVE_FRACTION = 0.25
# Absolute pixels of the 64 x 64 keyframe; image 1 has one padded box.
_GT_BOXES = np.array([[[0, 0, 32, 32], [32, 16, 64, 48]],
                      [[16, 16, 48, 48], [0, 0, 0, 0]]], np.float32)
_GT_VALID = np.array([[True, True], [True, False]])


@pytest.fixture(scope='module')
def detector():
  # Level 4 of 64 x 64: a 4 x 4 grid, 3 anchors (aspect ratios) per cell,
  # 32 x 32 base size.
  return keyframe_actor_detector.KeyframeActorDetector(
      _IMAGE_SIZE, model_id=18, depth_multiplier=0.25, min_level=4,
      max_level=4, num_scales=1, aspect_ratios=(0.5, 1.0, 2.0),
      anchor_size=2.0, rpn_batch_size_per_image=_BATCH_PER_IMAGE,
      rpn_positive_fraction=_POSITIVE_FRACTION,
      rpn_foreground_iou_threshold=0.5, rpn_background_iou_threshold=0.3)


def _targets(detector, seed):
  scores, boxes = detector.targets(tf.constant(_GT_BOXES),
                                   tf.constant(_GT_VALID),
                                   seed=tf.constant(seed, tf.int64))
  return scores['4'].numpy(), boxes['4'].numpy()


def _unsampled_labels(detector):
  """Model Garden's matching per image: 1 positive, 0 negative, -1 ignored."""
  labeler = anchor.RpnAnchorLabeler(match_threshold=0.5,
                                    unmatched_threshold=0.3)
  anchors = detector._anchor_boxes  # pylint: disable=protected-access
  flat_anchors = tf.reshape(anchors['4'], [-1, 4])
  labels, box_targets = [], []
  for image in range(2):
    gt = tf.boolean_mask(_GT_BOXES[image], _GT_VALID[image])
    _, indicators = labeler.matcher(labeler.similarity_calc(flat_anchors, gt))
    indicators = indicators.numpy()
    labels.append(np.where(indicators > -1, 1,
                           np.where(indicators > -2, 0, -1)))
    # Box targets do not depend on the anchor sampling.
    _, boxes = labeler.label_anchors(anchors, gt,
                                     tf.ones([tf.shape(gt)[0], 1], tf.int32))
    box_targets.append(boxes['4'].numpy())
  return np.stack(labels), np.stack(box_targets)


def test_sampled_anchors_are_a_balanced_subset_of_the_matched_ones(detector):
  scores, boxes = _targets(detector, (2, 9))
  assert scores.shape == (2, 4, 4, 3) and scores.dtype == np.int32
  assert boxes.shape == (2, 4, 4, 12)
  labels, expected_boxes = _unsampled_labels(detector)
  flat = scores.reshape(2, -1)
  sampled = flat >= 0
  # A sampled anchor keeps its matched label.
  np.testing.assert_array_equal(flat[sampled], labels[sampled])
  max_positives = int(_BATCH_PER_IMAGE * _POSITIVE_FRACTION)
  for image in range(2):
    num_positive = (labels[image] == 1).sum()
    num_negative = (labels[image] == 0).sum()
    assert num_positive >= 1 and num_negative >= _BATCH_PER_IMAGE
    taken = min(num_positive, max_positives)
    assert (flat[image] == 1).sum() == taken
    assert (flat[image] == 0).sum() == _BATCH_PER_IMAGE - taken
  np.testing.assert_allclose(boxes, expected_boxes, atol=1e-6)


def test_anchor_sampling_is_keyed_on_the_seed(detector):
  first, _ = _targets(detector, (4, 1))
  np.testing.assert_array_equal(first, _targets(detector, (4, 1))[0])
  others = [_targets(detector, (4, step))[0] for step in range(2, 6)]
  assert any(not np.array_equal(first, other) for other in others)
  # No seed: the fixed default, deterministic.
  default = detector.targets(tf.constant(_GT_BOXES), tf.constant(_GT_VALID))
  np.testing.assert_array_equal(default[0]['4'],
                                _targets(detector, (0, 0))[0])


def test_losses_take_the_seed(detector):
  images = tf.zeros([2, *_IMAGE_SIZE, 3])
  outputs = detector(images, training=True)
  gt_boxes, gt_valid = tf.constant(_GT_BOXES), tf.constant(_GT_VALID)
  seed = tf.constant([1, 2], tf.int64)
  objectness, localization = detector.losses(outputs, gt_boxes, gt_valid,
                                             seed=seed)
  again = detector.losses(outputs, gt_boxes, gt_valid, seed=seed)
  assert np.isfinite(float(objectness)) and np.isfinite(float(localization))
  assert float(objectness) == float(again[0])
  assert float(localization) == float(again[1])


def test_a_bad_seed_is_refused(detector):
  with pytest.raises(ValueError, match=r'RPN sampling seed must have shape'):
    detector.targets(tf.constant(_GT_BOXES), tf.constant(_GT_VALID),
                     seed=tf.constant([1, 2, 3]))
