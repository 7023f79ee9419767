"""Tests of the seeded ROI sampler."""

import numpy as np
import pytest
import tensorflow as tf
from official.vision.modeling.layers import roi_sampler as garden_roi_sampler

from acrn_tf.meta_architectures import roi_sampler

# A 100 x 100 image, absolute pixels. Image 0: two actors and a padded box.
# Image 1: one actor and two padded boxes.
_GT_BOXES = np.array([[[0, 0, 50, 50], [50, 50, 100, 100], [0, 0, 0, 0]],
                      [[10, 10, 60, 60], [0, 0, 0, 0], [0, 0, 0, 0]]],
                     np.float32)
_GT_VALID = np.array([[True, True, False], [True, False, False]])


def _proposals():
  """12 proposals per image: 4 near the first actor, 8 elsewhere."""
  rng = np.random.default_rng(0)
  boxes = np.zeros([2, 12, 4], np.float32)
  for image in range(2):
    y, x = _GT_BOXES[image, 0, :2]
    for i in range(4):  # IoU >= 0.8 with the first actor
      boxes[image, i] = [y + i, x, y + 50, x + 50 - i]
    for i in range(4, 12):  # small boxes far from it (IoU < 0.5)
      top, left = rng.uniform(60, 85, 2)
      boxes[image, i] = [top, left - 50, top + 10, left - 40]
  return boxes


def _iou(a, b):
  inter_h = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  inter_w = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  inter = inter_h * inter_w
  area = lambda x: (x[2] - x[0]) * (x[3] - x[1])
  return inter / (area(a) + area(b) - inter)


def _run(sampler, seed):
  return [t.numpy() for t in sampler(
      tf.constant(_proposals()), tf.constant(_GT_BOXES),
      tf.constant(_GT_VALID), seed=tf.constant(seed, tf.int64))]


def test_samples_are_balanced_and_matched():
  sampler = roi_sampler.SeededROISampler(num_sampled_rois=6,
                                         foreground_fraction=0.5)
  rois, gt_boxes, gt_indices = _run(sampler, (1, 2))
  assert rois.shape == gt_boxes.shape == (2, 6, 4)
  assert gt_indices.shape == (2, 6)
  foreground = gt_indices >= 0
  # At most 6 * 0.5 foreground ROIs; image 0 has 4 + 2 mixed-in actors, 1
  # has 4 + 1: plenty, so exactly 3 each.
  np.testing.assert_array_equal(foreground.sum(-1), [3, 3])
  for image in range(2):
    for k in range(6):
      ious = [_iou(rois[image, k], g) if v else -1.0
              for g, v in zip(_GT_BOXES[image], _GT_VALID[image])]
      if foreground[image, k]:
        assert max(ious) >= 0.5
        assert gt_indices[image, k] == int(np.argmax(ious))
        np.testing.assert_array_equal(gt_boxes[image, k],
                                      _GT_BOXES[image, gt_indices[image, k]])
      else:
        assert max(ious) < 0.5
        np.testing.assert_array_equal(gt_boxes[image, k], 0)
  # Padded ground truth (-1 boxes once mixed in) is never sampled.
  assert (rois >= 0).all()


def test_same_seed_same_rois_and_other_seeds_other_rois():
  sampler = roi_sampler.SeededROISampler(num_sampled_rois=6,
                                         foreground_fraction=0.5)
  first = _run(sampler, (7, 1))
  for a, b in zip(first, _run(sampler, (7, 1))):
    np.testing.assert_array_equal(a, b)
  others = [_run(sampler, (7, step))[0] for step in range(2, 6)]
  assert any(not np.array_equal(first[0], other) for other in others)


def test_default_seed_is_deterministic():
  sampler = roi_sampler.SeededROISampler(num_sampled_rois=6)
  args = (tf.constant(_proposals()), tf.constant(_GT_BOXES),
          tf.constant(_GT_VALID))
  np.testing.assert_array_equal(sampler(*args)[0], sampler(*args)[0])
  np.testing.assert_array_equal(sampler(*args)[0],
                                _run(sampler, (0, 0))[0])


def test_taking_every_candidate_matches_model_gardens_sampler():
  """With room for every candidate, sampling is moot: same ROIs and labels."""
  kwargs = dict(num_sampled_rois=15, foreground_fraction=1.0)
  ours = _run(roi_sampler.SeededROISampler(**kwargs), (3, 3))
  gt_boxes = np.where(_GT_VALID[..., None], _GT_BOXES, -1.0)
  gt_classes = np.where(_GT_VALID, 1, -1)
  garden = garden_roi_sampler.ROISampler(**kwargs)(
      tf.constant(_proposals()), tf.constant(gt_boxes),
      tf.constant(gt_classes))
  garden_rois, _, garden_classes, garden_indices = [t.numpy() for t in garden]
  for image in range(2):
    # Compare as sets of (roi, matched index) over the valid ROIs.
    valid = garden_rois[image].max(-1) >= 0
    expected = sorted(
        (tuple(r), int(i) if c > 0 else -1) for r, i, c, v in zip(
            garden_rois[image], garden_indices[image], garden_classes[image],
            valid) if v)
    actual = sorted((tuple(r), int(i)) for r, i in zip(ours[0][image],
                                                       ours[2][image])
                    if r.max() >= 0)
    assert actual == expected


def test_an_image_with_few_candidates_is_filled_with_background():
  sampler = roi_sampler.SeededROISampler(num_sampled_rois=4,
                                         mix_gt_boxes=False)
  # One proposal on the actor, the rest padding (-1).
  boxes = -np.ones([1, 4, 4], np.float32)
  boxes[0, 0] = [0, 0, 50, 50]
  rois, _, gt_indices = [t.numpy() for t in sampler(
      tf.constant(boxes), tf.constant(_GT_BOXES[:1]),
      tf.constant(_GT_VALID[:1]))]
  np.testing.assert_array_equal(rois[0, 0], [0, 0, 50, 50])
  np.testing.assert_array_equal(gt_indices, [[0, -1, -1, -1]])


def test_too_few_boxes_and_bad_thresholds_are_refused():
  sampler = roi_sampler.SeededROISampler(num_sampled_rois=16)
  with pytest.raises(ValueError, match='cannot take 16 samples from 15'):
    _run(sampler, (0, 0))
  with pytest.raises(ValueError, match='thresholds must satisfy'):
    roi_sampler.SeededROISampler(foreground_iou_threshold=0.3,
                                 background_iou_high_threshold=0.5)
  with pytest.raises(ValueError, match='num_sampled_rois must be >= 1'):
    roi_sampler.SeededROISampler(num_sampled_rois=0)


def test_config_round_trip():
  sampler = roi_sampler.SeededROISampler(num_sampled_rois=5,
                                         foreground_fraction=0.4)
  clone = roi_sampler.SeededROISampler.from_config(sampler.get_config())
  assert clone.get_config() == sampler.get_config()
