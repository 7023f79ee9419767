"""eval_dict: one batch of model outputs split into keyframes, padding out."""

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.evaluation import eval_dict

_INPUT = standard_fields.InputDataFields
_DETECTION = standard_fields.DetectionResultFields
BOX = [0.1, 0.2, 0.3, 0.4]
PAD = [0.0, 0.0, 0.0, 0.0]


def _batch():
  return {
      _INPUT.video_id: np.array([b'v1', b'v2']),
      _INPUT.keyframe_timestamp: np.array([902.0, 3.5], np.float32),
      _INPUT.groundtruth_boxes: np.array([[BOX, PAD], [BOX, BOX]],
                                         np.float32),
      _INPUT.groundtruth_classes: np.array([[[1, 0], [0, 0]],
                                            [[0, 1], [1, 1]]], np.float32),
      _INPUT.groundtruth_valid: np.array([[True, False], [True, True]]),
      _DETECTION.detection_boxes: np.array([[BOX, PAD, PAD],
                                            [BOX, BOX, PAD]], np.float32),
      _DETECTION.num_detections: np.array([1, 2], np.float32),
      _DETECTION.detection_multiclass_scores: np.full((2, 3, 2), 0.5,
                                                      np.float32),
      _DETECTION.detection_classes: np.array([[2, 0, 0], [1, 2, 0]],
                                             np.float32),
      _DETECTION.detection_scores: np.array([[0.7, 0, 0], [0.6, 0.4, 0]],
                                            np.float32),
  }


def test_unbatch_removes_padding():
  first, second = eval_dict.unbatch_eval_dict(_batch())
  assert (first.video_id, first.timestamp) == ('v1', 902.0)
  assert second.video_id == 'v2'
  assert first.groundtruth_boxes.shape == (1, 4)
  assert second.groundtruth_labels.tolist() == [[0, 1], [1, 1]]
  assert first.detection_boxes.shape == (1, 4)
  assert second.scores.shape == (2, 2)  # multi-class scores preferred
  assert first.classes is None


def test_unbatch_top_class_and_gt_counts():
  batch = _batch()
  del batch[_DETECTION.detection_multiclass_scores]
  del batch[_INPUT.groundtruth_valid]
  batch[_INPUT.num_groundtruth_boxes] = np.array([1, 2])
  first, second = eval_dict.unbatch_eval_dict(batch)
  assert first.classes.tolist() == [2]
  assert second.classes.tolist() == [1, 2]
  np.testing.assert_allclose(second.scores, [0.6, 0.4])
  assert [len(first.groundtruth_boxes), len(second.groundtruth_boxes)] == [
      1, 2]
  with pytest.raises(ValueError, match="missing 'detection_multiclass"):
    eval_dict.unbatch_eval_dict(batch, multiclass_only=True)


def test_bad_fields_are_named():
  batch = _batch()
  batch[_INPUT.groundtruth_boxes] = np.zeros((2, 4))
  with pytest.raises(ValueError, match=r"\['groundtruth_boxes'\]: rank 2"):
    eval_dict.unbatch_eval_dict(batch)
  batch = _batch()
  batch[_DETECTION.detection_boxes] = np.zeros((3, 3, 4))
  with pytest.raises(ValueError, match=r"\['detection_boxes'\]: batch 3"):
    eval_dict.unbatch_eval_dict(batch)
  batch = _batch()
  del batch[_INPUT.groundtruth_valid]
  with pytest.raises(ValueError, match="needs 'groundtruth_valid' or"):
    eval_dict.unbatch_eval_dict(batch)


def test_keyframe_key():
  assert eval_dict.keyframe_key(b'v1', np.float32(3.5)) == 'v1,3.500'
  assert eval_dict.keyframe_key('v1', 1234.5667) == 'v1,1234.567'
