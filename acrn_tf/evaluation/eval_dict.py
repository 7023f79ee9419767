"""Model-output dicts (numpy, one batch) split into keyframes for evaluators.

The training loop's eval step hands the evaluators one dict per batch, keyed
by `standard_fields.InputDataFields` (ground truth) and
`DetectionResultFields` (postprocessed detections), padded to a fixed number
of boxes. This module removes the padding and yields one `EvalExample` per
keyframe, so every evaluator reads the dict the same way.
"""

import dataclasses
from typing import List, Mapping, Optional, Union

import numpy as np

from acrn_tf.core import standard_fields

_INPUT = standard_fields.InputDataFields
_DETECTION = standard_fields.DetectionResultFields


def keyframe_key(video_id: Union[str, bytes], timestamp: float) -> str:
  """The key of a keyframe in frame-AP: 'video_id,seconds.mmm' (ms)."""
  if isinstance(video_id, bytes):
    video_id = video_id.decode('utf-8')
  return f'{video_id},{float(timestamp):.3f}'


@dataclasses.dataclass
class EvalExample:
  """One keyframe of an eval dict, padding removed.

  Attributes:
    video_id: the video's id (str).
    timestamp: keyframe seconds.
    groundtruth_boxes: float `[m, 4]` normalised `[ymin, xmin, ymax, xmax]`.
    groundtruth_labels: `[m, num_classes]` multi-hot.
    detection_boxes: float `[n, 4]` normalised.
    scores: float `[n, num_classes]` (multi-class) or `[n]` (with classes).
    classes: int `[n]` label ids, or None with multi-class scores.
  """
  video_id: str
  timestamp: float
  groundtruth_boxes: np.ndarray
  groundtruth_labels: np.ndarray
  detection_boxes: np.ndarray
  scores: np.ndarray
  classes: Optional[np.ndarray] = None


def unbatch_eval_dict(eval_dict: Mapping[str, np.ndarray],
                      multiclass_only: bool = False) -> List[EvalExample]:
  """Splits a batch of model outputs and ground truth into keyframes.

  Args:
    eval_dict: numpy arrays of one batch, keyed by
      `standard_fields.InputDataFields`: video_id `[b]`, keyframe_timestamp
      `[b]`, groundtruth_boxes `[b, max_gt, 4]`, groundtruth_classes
      `[b, max_gt, num_classes]` multi-hot, and groundtruth_valid
      `[b, max_gt]` or num_groundtruth_boxes `[b]`; and by
      `DetectionResultFields`: detection_boxes `[b, max_det, 4]`,
      num_detections `[b]`, and either detection_multiclass_scores
      `[b, max_det, num_classes]` or detection_classes + detection_scores
      `[b, max_det]`. Boxes are normalised `[ymin, xmin, ymax, xmax]`.
    multiclass_only: require detection_multiclass_scores.

  Returns:
    One EvalExample per batch element.

  Raises:
    ValueError: naming the missing or misshapen field.
  """
  video_ids = _field(eval_dict, _INPUT.video_id).reshape(-1)
  timestamps = _field(eval_dict, _INPUT.keyframe_timestamp).reshape(-1)
  batch_size = len(video_ids)
  gt_boxes = _field(eval_dict, _INPUT.groundtruth_boxes, ndim=3,
                    batch_size=batch_size)
  gt_classes = _field(eval_dict, _INPUT.groundtruth_classes, ndim=3,
                      batch_size=batch_size)
  if _INPUT.groundtruth_valid in eval_dict:
    gt_valid = _field(eval_dict, _INPUT.groundtruth_valid, ndim=2,
                      batch_size=batch_size).astype(bool)
  elif _INPUT.num_groundtruth_boxes in eval_dict:
    counts = _field(eval_dict, _INPUT.num_groundtruth_boxes).reshape(-1)
    gt_valid = np.arange(gt_boxes.shape[1])[None, :] < counts[:, None]
  else:
    raise ValueError(f'eval_dict: needs {_INPUT.groundtruth_valid!r} or '
                     f'{_INPUT.num_groundtruth_boxes!r}')
  det_boxes = _field(eval_dict, _DETECTION.detection_boxes, ndim=3,
                     batch_size=batch_size)
  num_det = _field(eval_dict, _DETECTION.num_detections).reshape(-1)
  multiclass = (multiclass_only or
                _DETECTION.detection_multiclass_scores in eval_dict)
  if multiclass:
    det_scores = _field(eval_dict, _DETECTION.detection_multiclass_scores,
                        ndim=3, batch_size=batch_size)
  else:
    det_scores = _field(eval_dict, _DETECTION.detection_scores, ndim=2,
                        batch_size=batch_size)
    det_classes = _field(eval_dict, _DETECTION.detection_classes, ndim=2,
                         batch_size=batch_size)
  examples = []
  for i in range(batch_size):
    video_id = video_ids[i]
    if isinstance(video_id, bytes):
      video_id = video_id.decode('utf-8')
    n = int(num_det[i])
    examples.append(EvalExample(
        video_id=str(video_id), timestamp=float(timestamps[i]),
        groundtruth_boxes=gt_boxes[i][gt_valid[i]],
        groundtruth_labels=gt_classes[i][gt_valid[i]],
        detection_boxes=det_boxes[i, :n], scores=det_scores[i, :n],
        classes=None if multiclass else np.rint(
            det_classes[i, :n]).astype(np.int64)))
  return examples


def _field(eval_dict, key, ndim=None, batch_size=None) -> np.ndarray:
  if key not in eval_dict:
    raise ValueError(f'eval_dict: missing {key!r}')
  value = np.asarray(eval_dict[key])
  if ndim is not None and value.ndim != ndim:
    raise ValueError(f'eval_dict[{key!r}]: rank {value.ndim}, expected '
                     f'{ndim} (shape {value.shape})')
  if batch_size is not None and value.shape[0] != batch_size:
    raise ValueError(f'eval_dict[{key!r}]: batch {value.shape[0]}, expected '
                     f'{batch_size} (from {_INPUT.video_id!r})')
  return value
