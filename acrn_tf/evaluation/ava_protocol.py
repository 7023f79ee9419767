"""The AVA frame-AP protocol: csv files in, the official tool's numbers out.

Gives, for any input the ActivityNet challenge's `get_ava_performance.py`
accepts, the metrics it prints (it runs the OD API's
`PascalDetectionEvaluator` at IoU 0.5). Two releases of that tool are
followed: `CURRENT` (the default, the one published today) and `V2_1` (the
2018-2019 release that scored AVA v2.1). The rules, kept here or in
`ava_csv`, which reads the files as each release does:

- only the classes of the label map given are evaluated (e.g. the 60-class
  list); rows of other actions are skipped on both sides;
- at most 50 detection rows per keyframe, the top scores (`ava_csv`);
- the keyframes of the groundtruth csv are the annotated ones, 2-column
  `video_id,timestamp` rows (no action) included. CURRENT: detections on a
  keyframe that is not annotated are ignored (neither true nor false
  positives), timestamps are keys to the microsecond. V2_1: 2-column rows
  are refused, timestamps must be whole seconds, and detections on a
  keyframe without groundtruth boxes are false positives. Either way the
  count of such detection keyframes is returned
  ('num_unannotated_detection_keyframes') with the rule applied;
- keyframes in an excluded-timestamps csv (a V2_1 input, accepted with
  either) are dropped from both sides;
- a groundtruth box with several actions is one row, and so one gt
  instance, per action; detections likewise are one row per (box, action);
- a detection with x1 >= x2 or y1 >= y2 is dropped before matching;
- no difficult or group-of boxes (AVA has none);
- a detection on an annotated keyframe without boxes of its class is a
  false positive;
- a class of the label map without groundtruth has AP nan and is left out of
  the mean; one with groundtruth but no detections has AP 0.

The matching and AP are those of `frame_ap.FrameAPEvaluator`, which the
ranked, filtered rows are fed into. `evaluate_files` scores csv files;
`AvaFrameAPEvaluator` applies the same rules to model outputs in memory (the
training loop's eval), without a csv round trip.
"""

from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence

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
# Releases of the official evaluator (see the module docstring).
CURRENT = 'current'
V2_1 = 'v2.1'
VERSIONS = (CURRENT, V2_1)
# What happens to detections on keyframes the groundtruth does not name.
IGNORED = 'ignored'
FALSE_POSITIVES = 'false positives'
PROTOCOL_NAMES = {
    CURRENT: 'AVA (ActivityNet get_ava_performance.py, current release)',
    V2_1: 'AVA (ActivityNet get_ava_performance.py, v2.1 release)',
}

KeyframeBoxes = ava_csv.KeyframeBoxes
_INPUT = standard_fields.InputDataFields
_DETECTION = standard_fields.DetectionResultFields


def check_version(version: str) -> str:
  """`version` if it is one of VERSIONS, else ValueError naming them."""
  if version not in VERSIONS:
    raise ValueError(f'AVA evaluator version {version!r}: expected one of '
                     f'{list(VERSIONS)}')
  return version


def key_fn_of(version: str) -> ava_csv.KeyFn:
  """The csv-row key function of an evaluator release."""
  return (ava_csv.ava_key_from_row if check_version(version) == CURRENT
          else ava_csv.ava_v21_key_from_row)


FrameEvaluatorFn = Callable[[Dict[int, str], Sequence[float], str], object]


def evaluate(groundtruth: Dict[str, KeyframeBoxes],
             detections: Dict[str, KeyframeBoxes],
             categories: Dict[int, str],
             excluded_keys: Iterable[str] = (),
             iou_thresholds: Sequence[float] = (IOU_THRESHOLD,),
             metric_name: str = 'ava_frame_ap',
             annotated_keys: Optional[Iterable[str]] = None,
             unannotated: str = IGNORED,
             frame_evaluator_fn: Optional[FrameEvaluatorFn] = None) -> Dict:
  """Frame-AP of keyframes read by `ava_csv.read_keyframes`.

  Args:
    groundtruth: key -> KeyframeBoxes, read with the class filter.
    detections: key -> KeyframeBoxes, read with the class filter and the
      per-keyframe capacity.
    categories: id -> name of the evaluated classes.
    excluded_keys: keys dropped from both sides.
    iou_thresholds: (0.5,) in the official protocol; the official names
      report the first.
    metric_name: the `metric` field of the result.
    annotated_keys: the annotated keyframes (every key of the groundtruth
      csv); None takes the keys of `groundtruth`.
    unannotated: IGNORED (the current official rule) or FALSE_POSITIVES
      (v2.1): what the detections on keyframes outside `annotated_keys`
      become.
    frame_evaluator_fn: (categories, thresholds, metric_name) -> an
      evaluator with `add_groundtruth`, `add_detections` and `evaluate`
      (default `frame_ap.FrameAPEvaluator`, the official matching).

  Returns:
    The evaluator's metrics dict, plus 'official': the official evaluator's
    metric names -> values ('PascalBoxes_Precision/mAP@0.5IOU' and
    'PascalBoxes_PerformanceByCategory/AP@0.5IOU/<name>'), the counts of
    excluded keyframes, 'num_unannotated_detection_keyframes' and
    'num_unannotated_detection_rows' (detection keyframes, not excluded,
    outside `annotated_keys`, and their rows) and
    'unannotated_detections' (the rule applied to them).
  """
  if unannotated not in (IGNORED, FALSE_POSITIVES):
    raise ValueError(f'unannotated: expected {IGNORED!r} or '
                     f'{FALSE_POSITIVES!r}, got {unannotated!r}')
  excluded = set(excluded_keys)
  annotated = set(groundtruth if annotated_keys is None else annotated_keys)
  if frame_evaluator_fn is None:
    evaluator = frame_ap.FrameAPEvaluator(categories, iou_thresholds,
                                          metric_name=metric_name)
  else:
    evaluator = frame_evaluator_fn(categories, iou_thresholds, metric_name)
  skipped_groundtruth = skipped_detections = 0
  unannotated_keys = unannotated_rows = 0
  for key, entry in groundtruth.items():
    if key in excluded:
      skipped_groundtruth += 1
      continue
    evaluator.add_groundtruth(key, entry.boxes, entry.labels)
  for key, entry in detections.items():
    if key in excluded:
      skipped_detections += 1
      continue
    if key not in annotated:
      unannotated_keys += 1
      unannotated_rows += len(entry.labels)
      if unannotated == IGNORED:
        continue
    evaluator.add_detections(key, entry.boxes, entry.scores, entry.labels)
  if skipped_groundtruth or skipped_detections:
    logging.info('%s: excluded %d groundtruth and %d detection keyframes.',
                 metric_name, skipped_groundtruth, skipped_detections)
  if unannotated_keys:
    logging.info('%s: %d detection keyframes (%d rows) are not in the '
                 'groundtruth; %s.', metric_name, unannotated_keys,
                 unannotated_rows, unannotated)
  metrics = evaluator.evaluate()
  metrics['num_excluded_groundtruth_keyframes'] = skipped_groundtruth
  metrics['num_excluded_detection_keyframes'] = skipped_detections
  metrics['num_unannotated_detection_keyframes'] = unannotated_keys
  metrics['num_unannotated_detection_rows'] = unannotated_rows
  metrics['unannotated_detections'] = unannotated
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
                   key_fn: Optional[ava_csv.KeyFn] = None,
                   metric_name: str = 'ava_frame_ap',
                   version: str = CURRENT,
                   unannotated: Optional[str] = None,
                   frame_evaluator_fn: Optional[FrameEvaluatorFn] = None,
                   protocol: Optional[str] = None) -> Dict:
  """Reads the files and evaluates, as `get_ava_performance.py -l -g -d`.

  With the defaults this is the current official protocol; `version=V2_1`
  is the v2.1 release (`-e` is `excluded_timestamps_csv`, accepted with
  either). `frame_ap` over the same files is `max_detections_per_keyframe=0`
  (keep all), any thresholds, `key_fn=ava_csv.frame_key_from_row` and
  `unannotated=FALSE_POSITIVES`.

  Args:
    groundtruth_csv, detections_csv, label_map_path,
      excluded_timestamps_csv: the files.
    max_detections_per_keyframe: detection rows kept per keyframe (0: all).
    iou_thresholds: the IoU thresholds.
    key_fn: the keyframe key of a row (default that of `version`).
    metric_name: the `metric` field of the result.
    version: CURRENT or V2_1 (see the module docstring).
    unannotated: IGNORED or FALSE_POSITIVES (default that of `version`).
    frame_evaluator_fn: as in `evaluate`.
    protocol: the 'protocol' field of the result (default the AVA release's
      name, `PROTOCOL_NAMES`).

  Raises:
    FileNotFoundError: naming the missing file.
    ava_csv.CsvFormatError: naming path:line of a bad row.
    label_map_util.LabelMapError: naming path:line of a bad label map.
  """
  check_version(version)
  if key_fn is None:
    key_fn = key_fn_of(version)
  if unannotated is None:
    unannotated = IGNORED if version == CURRENT else FALSE_POSITIVES
  thresholds = average_precision.check_iou_thresholds(iou_thresholds)
  categories = label_map_util.read_label_map(label_map_path)
  excluded = set()
  if excluded_timestamps_csv:
    excluded = ava_csv.read_excluded_timestamps(excluded_timestamps_csv,
                                                key_fn)
  allow_keyframe_only_rows = version == CURRENT
  groundtruth = ava_csv.read_keyframes(
      groundtruth_csv, categories, 0, require_valid_boxes=True,
      key_fn=key_fn, allow_keyframe_only_rows=allow_keyframe_only_rows)
  detections = ava_csv.read_keyframes(
      detections_csv, categories, max_detections_per_keyframe, key_fn=key_fn,
      allow_keyframe_only_rows=allow_keyframe_only_rows)
  metrics = evaluate(groundtruth.keyframes, detections.keyframes, categories,
                     excluded, thresholds, metric_name,
                     annotated_keys=groundtruth.all_keys,
                     unannotated=unannotated,
                     frame_evaluator_fn=frame_evaluator_fn)
  metrics['protocol'] = protocol or PROTOCOL_NAMES[version]
  return metrics


class AvaFrameAPEvaluator:
  """The AVA protocol on model outputs: `reset`, `add_eval_dict`, `evaluate`.

  Ground truth and detections come from eval dicts; rows of actions outside
  `categories` are skipped, detections are capped per keyframe with the
  official rule (`ava_csv.KeyframeRowGrouper`), excluded keyframes dropped.
  Every keyframe added comes with its ground truth, so every one is
  annotated (one without boxes is a 2-column groundtruth row) and
  'num_unannotated_detection_keyframes' is 0. Boxes keep full precision (a
  csv written by `ava_csv` rounds them to 3 decimals, so the official tool
  may differ in the last digits).
  """

  def __init__(self,
               categories: Mapping[int, str],
               label_ids: Sequence[int],
               excluded_keys: Iterable[str] = (),
               max_detections_per_keyframe: int = MAX_DETECTIONS_PER_KEYFRAME,
               version: str = CURRENT):
    """Creates the evaluator.

    Args:
      categories: id -> name of the evaluated classes (e.g. the 60).
      label_ids: the label id of each column of the model's multi-hot
        ground truth and multi-class scores (may hold more classes).
      excluded_keys: official keys (`make_keyframe_key` of `version`) to
        leave out.
      max_detections_per_keyframe: 50 in the official protocol.
      version: CURRENT (any timestamp) or V2_1 (whole seconds only).
    """
    self._version = check_version(version)
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
      if self._version == V2_1:
        if abs(seconds - round(seconds)) > 1e-3:
          raise ValueError(
              f'{example.video_id}: keyframe_timestamp {seconds} is not '
              'whole seconds, which the v2.1 AVA evaluator requires')
        key = make_keyframe_key(example.video_id, round(seconds), V2_1)
      else:
        key = make_keyframe_key(example.video_id, seconds)
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
    metrics = evaluate(self._groundtruth.result(),
                       self._detections.result(), self._categories,
                       annotated_keys=self._seen)
    metrics['protocol'] = PROTOCOL_NAMES[self._version]
    return metrics


def make_keyframe_key(video_id, timestamp, version: str = CURRENT) -> str:
  """The official key of `version`; `video_id` may be bytes."""
  if isinstance(video_id, bytes):
    video_id = video_id.decode('utf-8')
  if check_version(version) == CURRENT:
    return ava_csv.make_keyframe_key(video_id, timestamp)
  return ava_csv.make_v21_keyframe_key(video_id, timestamp)
