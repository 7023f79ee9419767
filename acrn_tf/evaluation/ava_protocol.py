"""The AVA frame-AP protocol: csv files in, the official tool's numbers out.

Gives, for any input the ActivityNet challenge's `get_ava_performance.py`
accepts, the metrics it prints (it runs the OD API's
`PascalDetectionEvaluator` at IoU 0.5). The rules it applies, all kept here
or in `ava_csv`, which reads the files as it does:

- only the classes of the label map given are evaluated (e.g. the 60-class
  list); rows of other actions are skipped on both sides;
- at most 50 detection rows per keyframe, the top scores (`ava_csv`);
- keyframes in the excluded-timestamps csv are dropped from both sides;
- a groundtruth box with several actions is one row, and so one gt
  instance, per action; detections likewise are one row per (box, action);
- a detection with x1 >= x2 or y1 >= y2 is dropped before matching;
- no difficult or group-of boxes (AVA has none);
- a detection on a keyframe without groundtruth is a false positive;
- a class of the label map without groundtruth has AP nan and is left out of
  the mean; one with groundtruth but no detections has AP 0.

The matching and AP are those of `frame_ap.FrameAPEvaluator`, which the
ranked, filtered rows are fed into. `evaluate_files` scores csv files;
`AvaFrameAPEvaluator` applies the same rules to model outputs in memory (the
training loop's eval), without a csv round trip.
"""

from typing import Dict, Iterable, Mapping, Optional, Sequence

from absl import logging
import numpy as np

from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.evaluation import average_precision
from acrn_tf.evaluation import ava_csv
from acrn_tf.evaluation import eval_dict as eval_dict_lib
from acrn_tf.evaluation import frame_ap

MAX_DETECTIONS_PER_KEYFRAME = 50
IOU_THRESHOLD = 0.5
# Prefix of the official evaluator's metric names.
OFFICIAL_PREFIX = 'PascalBoxes'

KeyframeBoxes = ava_csv.KeyframeBoxes
_INPUT = standard_fields.InputDataFields
_DETECTION = standard_fields.DetectionResultFields


def evaluate(groundtruth: Dict[str, KeyframeBoxes],
             detections: Dict[str, KeyframeBoxes],
             categories: Dict[int, str],
             excluded_keys: Iterable[str] = (),
             iou_thresholds: Sequence[float] = (IOU_THRESHOLD,),
             metric_name: str = 'ava_frame_ap') -> Dict:
  """Frame-AP of keyframes read by `ava_csv.read_csv`.

  Args:
    groundtruth: key -> KeyframeBoxes, read with the class filter.
    detections: key -> KeyframeBoxes, read with the class filter and the
      per-keyframe capacity.
    categories: id -> name of the evaluated classes.
    excluded_keys: keys dropped from both sides.
    iou_thresholds: (0.5,) in the official protocol; the official names
      report the first.
    metric_name: the `metric` field of the result.

  Returns:
    The `frame_ap` metrics dict, plus 'official': the official evaluator's
    metric names -> values ('PascalBoxes_Precision/mAP@0.5IOU' and
    'PascalBoxes_PerformanceByCategory/AP@0.5IOU/<name>'), and the counts of
    excluded keyframes.
  """
  excluded = set(excluded_keys)
  evaluator = frame_ap.FrameAPEvaluator(categories, iou_thresholds,
                                        metric_name=metric_name)
  skipped_groundtruth = skipped_detections = 0
  for key, entry in groundtruth.items():
    if key in excluded:
      skipped_groundtruth += 1
      continue
    evaluator.add_groundtruth(key, entry.boxes, entry.labels)
  for key, entry in detections.items():
    if key in excluded:
      skipped_detections += 1
      continue
    evaluator.add_detections(key, entry.boxes, entry.scores, entry.labels)
  if skipped_groundtruth or skipped_detections:
    logging.info('%s: excluded %d groundtruth and %d detection keyframes.',
                 metric_name, skipped_groundtruth, skipped_detections)
  metrics = evaluator.evaluate()
  metrics['num_excluded_groundtruth_keyframes'] = skipped_groundtruth
  metrics['num_excluded_detection_keyframes'] = skipped_detections
  metrics['official'] = official_metric_names(metrics)
  return metrics


def official_metric_names(metrics: Dict) -> Dict[str, float]:
  """The metrics under the names `get_ava_performance.py` prints."""
  key = average_precision.iou_key(metrics['primary_iou_threshold'])
  prefix = f'{OFFICIAL_PREFIX}_'
  named = {f'{prefix}Precision/mAP@{key}IOU': metrics['mean_ap']}
  for entry in metrics['classes']:
    named[f'{prefix}PerformanceByCategory/AP@{key}IOU/{entry["name"]}'] = (
        entry['ap_by_iou'][key])
  return named


def evaluate_files(groundtruth_csv: str,
                   detections_csv: str,
                   label_map_path: str,
                   excluded_timestamps_csv: Optional[str] = None,
                   max_detections_per_keyframe: int = (
                       MAX_DETECTIONS_PER_KEYFRAME),
                   iou_thresholds: Sequence[float] = (IOU_THRESHOLD,),
                   key_fn: ava_csv.KeyFn = ava_csv.ava_key_from_row,
                   metric_name: str = 'ava_frame_ap') -> Dict:
  """Reads the files and evaluates, as `get_ava_performance.py -l -g -d -e`.

  With the defaults this is the official protocol. `frame_ap` over the same
  files is `max_detections_per_keyframe=0` (keep all), any thresholds and
  `key_fn=ava_csv.frame_key_from_row`.

  Raises:
    FileNotFoundError: naming the missing file.
    ava_csv.CsvFormatError: naming path:line of a bad row.
    label_map_util.LabelMapError: naming path:line of a bad label map.
  """
  thresholds = average_precision.check_iou_thresholds(iou_thresholds)
  categories = label_map_util.read_label_map(label_map_path)
  excluded = set()
  if excluded_timestamps_csv:
    excluded = ava_csv.read_excluded_timestamps(excluded_timestamps_csv,
                                                key_fn)
  groundtruth = ava_csv.read_csv(groundtruth_csv, categories, 0,
                                 require_valid_boxes=True, key_fn=key_fn)
  detections = ava_csv.read_csv(detections_csv, categories,
                                max_detections_per_keyframe, key_fn=key_fn)
  return evaluate(groundtruth, detections, categories, excluded, thresholds,
                  metric_name)


class AvaFrameAPEvaluator:
  """The AVA protocol on model outputs: `reset`, `add_eval_dict`, `evaluate`.

  Ground truth and detections come from eval dicts; rows of actions outside
  `categories` are skipped, detections are capped per keyframe with the
  official rule (`ava_csv.KeyframeRowGrouper`), excluded keyframes dropped.
  Boxes keep full precision (a csv written by `ava_csv` rounds them to 3
  decimals, so the official tool may differ in the last digits).
  """

  def __init__(self,
               categories: Mapping[int, str],
               label_ids: Sequence[int],
               excluded_keys: Iterable[str] = (),
               max_detections_per_keyframe: int = MAX_DETECTIONS_PER_KEYFRAME):
    """Creates the evaluator.

    Args:
      categories: id -> name of the evaluated classes (e.g. the 60).
      label_ids: the label id of each column of the model's multi-hot
        ground truth and multi-class scores (may hold more classes).
      excluded_keys: official keys (`make_keyframe_key`) to leave out.
      max_detections_per_keyframe: 50 in the official protocol.
    """
    self._categories = {int(i): str(n) for i, n in categories.items()}
    self._label_ids = np.asarray(label_ids, dtype=np.int64).reshape(-1)
    missing = sorted(set(self._categories) - set(self._label_ids.tolist()))
    if missing:
      raise ValueError(f'categories {missing} are not among the model\'s '
                       f'label_ids {self._label_ids.tolist()}')
    self._evaluated_columns = np.nonzero(
        np.isin(self._label_ids, list(self._categories)))[0]
    self._excluded = set(excluded_keys)
    self._capacity = max_detections_per_keyframe
    self.reset()

  def reset(self) -> None:
    """Forgets every keyframe added."""
    self._groundtruth = ava_csv.KeyframeRowGrouper(0)
    self._detections = ava_csv.KeyframeRowGrouper(self._capacity)
    self._seen = set()

  def add_eval_dict(self, eval_dict: Mapping[str, np.ndarray]) -> None:
    """Adds one batch (see `eval_dict.unbatch_eval_dict`).

    Needs video_id, keyframe_timestamp (whole seconds), groundtruth_boxes,
    groundtruth_classes (multi-hot over `label_ids`), groundtruth_valid or
    num_groundtruth_boxes, detection_boxes, num_detections and
    detection_multiclass_scores (over `label_ids`); boxes normalised
    `[ymin, xmin, ymax, xmax]`. A keyframe seen before is ignored.

    Raises:
      ValueError: naming the missing or misshapen field, or a keyframe
        timestamp that is not whole seconds.
    """
    batch = eval_dict_lib.unbatch_eval_dict(eval_dict, multiclass_only=True)
    num_columns = len(self._label_ids)
    for example in batch:
      seconds = float(example.timestamp)
      if abs(seconds - round(seconds)) > 1e-3:
        raise ValueError(
            f'{example.video_id}: keyframe_timestamp {seconds} is not whole '
            'seconds, which the AVA protocol requires; use FRAME_AP')
      key = make_keyframe_key(example.video_id, round(seconds))
      if key in self._seen:
        logging.warning('ava_frame_ap: keyframe %s added twice; ignored.',
                        key)
        continue
      self._seen.add(key)
      if key in self._excluded:
        continue
      for where, array in (
          (_INPUT.groundtruth_classes, example.groundtruth_labels),
          (_DETECTION.detection_multiclass_scores, example.scores)):
        if array.shape[1] != num_columns:
          raise ValueError(f'eval_dict[{where!r}]: {array.shape[1]} columns, '
                           f'expected {num_columns} (label_ids)')
      for box, labels in zip(example.groundtruth_boxes,
                             example.groundtruth_labels):
        for column in self._evaluated_columns:
          if labels[column] > 0:
            self._groundtruth.add(key, box, self._label_ids[column], 1.0)
      for box, scores in zip(example.detection_boxes, example.scores):
        for column in self._evaluated_columns:
          self._detections.add(key, box, self._label_ids[column],
                               scores[column])

  def evaluate(self) -> Dict:
    """The AVA frame-AP of everything added (see `evaluate`)."""
    return evaluate(self._groundtruth.result(), self._detections.result(),
                    self._categories)


def make_keyframe_key(video_id, timestamp) -> str:
  """The official key; `video_id` may be bytes."""
  if isinstance(video_id, bytes):
    video_id = video_id.decode('utf-8')
  return ava_csv.make_keyframe_key(video_id, timestamp)
