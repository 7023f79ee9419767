r"""Evaluates detections against ground truth: AVA frame-AP, frame-AP, video-AP.

  # The ActivityNet AVA protocol (same numbers as get_ava_performance.py as
  # published today; --ava_evaluator_version v2.1 for its v2.1 release):
  python tools/evaluate.py --metric ava_frame_ap \
      --groundtruth_csv ava_val_v2.1.csv --detections_csv detections.csv \
      --label_map_path ava_action_list_v2.1_for_activitynet_2018.pbtxt \
      --excluded_timestamps_csv ava_val_excluded_timestamps_v2.1.csv \
      --output_dir eval_out

  # Frame-AP over the same csv format, any IoU thresholds, all detections:
  python tools/evaluate.py --metric frame_ap --iou_thresholds 0.5,0.75 ...

  # Video-AP of tubes (JSON, see acrn_tf/evaluation/video_ap.py):
  python tools/evaluate.py --metric video_ap --label_map_path label_map.pbtxt \
      --groundtruth_tubes_json gt_tubes.json \
      --detection_tubes_json tubes.json

  # JHMDB figures as papers report them (the ACT detector's evaluation code;
  # boxes scaled to pixels of the 240 x 320 JHMDB frames):
  python tools/evaluate.py --metric video_ap --protocol act \
      --frame_size 240,320 ...

Prints the per-class AP table, the protocol that made it and the mean AP;
with --output_dir also writes metrics.json, per_class_ap.csv and
pr_curves.png there.
"""

import os
import sys

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.data import label_map_util  # pylint: disable=g-import-not-at-top
from acrn_tf.evaluation import act_protocol
from acrn_tf.evaluation import ava_csv
from acrn_tf.evaluation import average_precision
from acrn_tf.evaluation import ava_protocol
from acrn_tf.evaluation import reporting
from acrn_tf.evaluation import video_ap

AVA_FRAME_AP = 'ava_frame_ap'
FRAME_AP = 'frame_ap'
VIDEO_AP = 'video_ap'
VOC = 'voc'
ACT = 'act'

_METRIC = flags.DEFINE_enum(
    'metric', AVA_FRAME_AP, [AVA_FRAME_AP, FRAME_AP, VIDEO_AP],
    'ava_frame_ap: the official AVA protocol (IoU 0.5, top 50 rows per '
    'keyframe); frame_ap: the same csv files at --iou_thresholds, all rows, '
    'fractional timestamps allowed; video_ap: tubes from JSON files.')
_GROUNDTRUTH_CSV = flags.DEFINE_string(
    'groundtruth_csv', None, 'Groundtruth csv: video_id, timestamp, x1, y1, '
    'x2, y2, action_id[, person_id] (normalised, x before y), or video_id, '
    'timestamp alone for a keyframe annotated with no action.')
_DETECTIONS_CSV = flags.DEFINE_string(
    'detections_csv', None, 'Detections csv: video_id, timestamp, x1, y1, '
    'x2, y2, action_id, score.')
_LABEL_MAP_PATH = flags.DEFINE_string(
    'label_map_path', None, 'Label map (item {name id} or label {name '
    'label_id}); only its classes are evaluated.')
_EXCLUDED_TIMESTAMPS_CSV = flags.DEFINE_string(
    'excluded_timestamps_csv', None,
    'Optional csv of video_id, timestamp keyframes left out of both sides.')
_GROUNDTRUTH_TUBES_JSON = flags.DEFINE_string(
    'groundtruth_tubes_json', None, 'video_ap: ground-truth tubes JSON.')
_DETECTION_TUBES_JSON = flags.DEFINE_string(
    'detection_tubes_json', None, 'video_ap: predicted tubes JSON.')
_IOU_THRESHOLDS = flags.DEFINE_list(
    'iou_thresholds', None, 'IoU thresholds (frame_ap default 0.5; video_ap '
    'default 0.2,0.5,0.75). The first is the headline, except video_ap\'s '
    '0.5. Not for ava_frame_ap (fixed at 0.5).')
_AVA_EVALUATOR_VERSION = flags.DEFINE_enum(
    'ava_evaluator_version', ava_protocol.CURRENT, list(ava_protocol.VERSIONS),
    'ava_frame_ap: which release of ActivityNet\'s get_ava_performance.py to '
    'follow. current: groundtruth rows "video_id,timestamp" are keyframes '
    'annotated with no action, detections on keyframes the groundtruth does '
    'not name are ignored, timestamps are keys to the microsecond. v2.1 (the '
    'release that scored AVA v2.1): 2-column rows and fractional timestamps '
    'are refused, detections on keyframes without groundtruth boxes are '
    'false positives.')
_PROTOCOL = flags.DEFINE_enum(
    'protocol', VOC, [VOC, ACT],
    'frame_ap and video_ap: voc (PASCAL VOC: interpolated AP, mean over '
    'classes with groundtruth) or act (the JHMDB/UCF101-24 evaluation code of '
    'the ACT detector, whose figures papers report: trapezoid AP from '
    '(recall 0, precision 1), inclusive-pixel IoU, matching against '
    'unmatched boxes, tube NMS at 0.3, mean over all labels, video-AP '
    '0.5:0.95). act needs --frame_size.')
_FRAME_SIZE = flags.DEFINE_list(
    'frame_size', None, '--protocol act: HEIGHT,WIDTH of the frames in '
    'pixels, which scale the normalised boxes (JHMDB: 240,320).')
_MAX_DETECTIONS_PER_KEYFRAME = flags.DEFINE_integer(
    'max_detections_per_keyframe', None, 'Top-scoring detection rows kept per '
    'keyframe (default 50 for ava_frame_ap, as the official tool; all for '
    'frame_ap; 0 keeps all).')
_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', None, 'If set, writes metrics.json, per_class_ap.csv and '
    'pr_curves.png here.')


def _existing(flag) -> str:
  """The flag's path; FileNotFoundError naming the flag if it is missing."""
  if not os.path.isfile(flag.value):
    raise FileNotFoundError(f'--{flag.name}: no such file: {flag.value}')
  return flag.value


def _require(*flag_holders):
  missing = [f'--{f.name}' for f in flag_holders if not f.value]
  if missing:
    raise app.UsageError(f'--metric {_METRIC.value} needs '
                         f'{", ".join(missing)}')


def _thresholds(default):
  if _IOU_THRESHOLDS.value is None:
    return list(default)
  try:
    return [float(t) for t in _IOU_THRESHOLDS.value]
  except ValueError as e:
    raise app.UsageError(f'--iou_thresholds: {e}') from e


def _evaluate_csv(metric: str):
  _require(_GROUNDTRUTH_CSV, _DETECTIONS_CSV, _LABEL_MAP_PATH)
  paths = [_existing(_GROUNDTRUTH_CSV), _existing(_DETECTIONS_CSV),
           _existing(_LABEL_MAP_PATH)]
  excluded = None
  if _EXCLUDED_TIMESTAMPS_CSV.value:
    excluded = _existing(_EXCLUDED_TIMESTAMPS_CSV)
  if metric == AVA_FRAME_AP:
    if _IOU_THRESHOLDS.value is not None:
      raise app.UsageError('--iou_thresholds: the AVA protocol is fixed at '
                           '0.5; use --metric frame_ap for other thresholds')
    capacity = _MAX_DETECTIONS_PER_KEYFRAME.value
    if capacity is None:
      capacity = ava_protocol.MAX_DETECTIONS_PER_KEYFRAME
    return ava_protocol.evaluate_files(
        *paths, excluded_timestamps_csv=excluded,
        max_detections_per_keyframe=capacity, metric_name=AVA_FRAME_AP,
        version=_AVA_EVALUATOR_VERSION.value)
  # Frame-AP counts every detection: a keyframe absent from the groundtruth
  # holds no action, so its detections are false positives.
  evaluator_fn, protocol, name = None, average_precision.VOC_PROTOCOL, FRAME_AP
  if _PROTOCOL.value == ACT:
    size = _frame_size()
    protocol, name = act_protocol.PROTOCOL, 'frame_ap_act'

    def evaluator_fn(categories, thresholds, metric_name):
      return act_protocol.ActFrameAPEvaluator(
          categories, thresholds, metric_name=metric_name, image_size=size)
  return ava_protocol.evaluate_files(
      *paths, excluded_timestamps_csv=excluded,
      max_detections_per_keyframe=_MAX_DETECTIONS_PER_KEYFRAME.value or 0,
      iou_thresholds=_thresholds((0.5,)),
      key_fn=ava_csv.frame_key_from_row, metric_name=name,
      unannotated=ava_protocol.FALSE_POSITIVES,
      frame_evaluator_fn=evaluator_fn, protocol=protocol)


def _frame_size():
  """--frame_size as (height, width); UsageError if missing or malformed."""
  if not _FRAME_SIZE.value:
    raise app.UsageError('--protocol act needs --frame_size HEIGHT,WIDTH '
                         '(the frames\' size in pixels; JHMDB: 240,320)')
  try:
    size = tuple(float(v) for v in _FRAME_SIZE.value)
  except ValueError as e:
    raise app.UsageError(f'--frame_size: {e}') from e
  if len(size) != 2 or min(size) <= 0:
    raise app.UsageError('--frame_size: expected HEIGHT,WIDTH, two positive '
                         f'numbers, got {",".join(_FRAME_SIZE.value)}')
  return size


def _evaluate_tubes():
  _require(_GROUNDTRUTH_TUBES_JSON, _DETECTION_TUBES_JSON, _LABEL_MAP_PATH)
  categories = label_map_util.read_label_map(_existing(_LABEL_MAP_PATH))
  groundtruth = video_ap.read_tubes_json(_existing(_GROUNDTRUTH_TUBES_JSON))
  detections = video_ap.read_tubes_json(_existing(_DETECTION_TUBES_JSON))
  thresholds = _thresholds(video_ap.DEFAULT_IOU_THRESHOLDS)
  primary = 0.5 if 0.5 in thresholds else thresholds[0]
  if _PROTOCOL.value == ACT:
    evaluator = act_protocol.ActVideoAPEvaluator(
        categories, thresholds, primary, image_size=_frame_size())
  else:
    evaluator = video_ap.VideoAPEvaluator(categories, thresholds, primary)
  # The label map is the evaluated class subset: other tubes are skipped.
  for video_id, tubes in groundtruth.items():
    evaluator.add_groundtruth(
        video_id, [t for t in tubes if t.label_id in categories])
  for video_id, tubes in detections.items():
    evaluator.add_detections(
        video_id, [t for t in tubes if t.label_id in categories])
  return evaluator.evaluate()


def unannotated_summary(metrics) -> str:
  """A line: how many detection keyframes had no groundtruth, and their fate."""
  count = metrics['num_unannotated_detection_keyframes']
  rule = metrics['unannotated_detections']
  if rule == ava_protocol.IGNORED:
    fate = ('ignored (neither true nor false positives), as the current '
            'ActivityNet evaluator ignores them')
  else:
    fate = 'scored as false positives'
  return (f'{count} detection keyframes '
          f'({metrics["num_unannotated_detection_rows"]} rows) are not in the '
          f'groundtruth csv: {fate}.')


def run(argv):
  """Evaluates as the flags say, prints the table; returns the metrics."""
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  metric = _METRIC.value
  if metric == AVA_FRAME_AP and _PROTOCOL.value != VOC:
    raise app.UsageError('--protocol: ava_frame_ap follows the ActivityNet '
                         'evaluator (see --ava_evaluator_version); --protocol '
                         'chooses how frame_ap and video_ap are computed')
  if metric == VIDEO_AP:
    metrics = _evaluate_tubes()
  else:
    metrics = _evaluate_csv(metric)
  print(reporting.format_per_class_table(metrics))
  # The metric's own name: frame_ap_act / video_ap_act under the ACT rules.
  name = metrics['metric']
  key = f'{metrics["primary_iou_threshold"]:g}'
  print(f'{name} mAP@{key}: {100 * metrics["mean_ap"]:.2f}%')
  if metric == VIDEO_AP:
    print(f'{name} mAP averaged over IoU '
          f'{",".join(metrics["mean_ap_by_iou"])}: '
          f'{100 * metrics["mean_ap_over_thresholds"]:.2f}%')
  if act_protocol.MEAN_AP_050_095 in metrics:
    print(f'{name} mAP@0.5:0.95 (mean over 0.5 + 0.05 i, i = 0..9): '
          f'{100 * metrics[act_protocol.MEAN_AP_050_095]:.2f}%')
  if metric == AVA_FRAME_AP:
    name = next(iter(metrics['official']))
    print(f'{name} = {metrics["official"][name]:.6f}')
  if metric != VIDEO_AP:
    print(unannotated_summary(metrics))
  if _OUTPUT_DIR.value:
    paths = reporting.write_report(_OUTPUT_DIR.value, metrics)
    print('Wrote ' + ', '.join(sorted(paths.values())))
  return metrics


def _main(argv):
  try:
    run(argv)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f'evaluate: error: {e}')


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
