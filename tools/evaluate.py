r"""Evaluates detections against ground truth: AVA frame-AP, frame-AP, video-AP.

  # The ActivityNet AVA protocol (same numbers as get_ava_performance.py):
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

Prints the per-class AP table and the mean AP; with --output_dir also writes
metrics.json, per_class_ap.csv and pr_curves.png there.
"""

import os
import sys

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.data import label_map_util  # pylint: disable=g-import-not-at-top
from acrn_tf.evaluation import ava_csv
from acrn_tf.evaluation import ava_protocol
from acrn_tf.evaluation import reporting
from acrn_tf.evaluation import video_ap

AVA_FRAME_AP = 'ava_frame_ap'
FRAME_AP = 'frame_ap'
VIDEO_AP = 'video_ap'

_METRIC = flags.DEFINE_enum(
    'metric', AVA_FRAME_AP, [AVA_FRAME_AP, FRAME_AP, VIDEO_AP],
    'ava_frame_ap: the official AVA protocol (IoU 0.5, top 50 rows per '
    'keyframe); frame_ap: the same csv files at --iou_thresholds, all rows, '
    'fractional timestamps allowed; video_ap: tubes from JSON files.')
_GROUNDTRUTH_CSV = flags.DEFINE_string(
    'groundtruth_csv', None, 'Groundtruth csv: video_id, timestamp, x1, y1, '
    'x2, y2, action_id[, person_id] (normalised, x before y).')
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
        max_detections_per_keyframe=capacity, metric_name=AVA_FRAME_AP)
  return ava_protocol.evaluate_files(
      *paths, excluded_timestamps_csv=excluded,
      max_detections_per_keyframe=_MAX_DETECTIONS_PER_KEYFRAME.value or 0,
      iou_thresholds=_thresholds((0.5,)),
      key_fn=ava_csv.frame_key_from_row, metric_name=FRAME_AP)


def _evaluate_tubes():
  _require(_GROUNDTRUTH_TUBES_JSON, _DETECTION_TUBES_JSON, _LABEL_MAP_PATH)
  categories = label_map_util.read_label_map(_existing(_LABEL_MAP_PATH))
  groundtruth = video_ap.read_tubes_json(_existing(_GROUNDTRUTH_TUBES_JSON))
  detections = video_ap.read_tubes_json(_existing(_DETECTION_TUBES_JSON))
  thresholds = _thresholds(video_ap.DEFAULT_IOU_THRESHOLDS)
  primary = 0.5 if 0.5 in thresholds else thresholds[0]
  evaluator = video_ap.VideoAPEvaluator(categories, thresholds, primary)
  # The label map is the evaluated class subset: other tubes are skipped.
  for video_id, tubes in groundtruth.items():
    evaluator.add_groundtruth(
        video_id, [t for t in tubes if t.label_id in categories])
  for video_id, tubes in detections.items():
    evaluator.add_detections(
        video_id, [t for t in tubes if t.label_id in categories])
  return evaluator.evaluate()


def run(argv):
  """Evaluates as the flags say, prints the table; returns the metrics."""
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  metric = _METRIC.value
  if metric == VIDEO_AP:
    metrics = _evaluate_tubes()
  else:
    metrics = _evaluate_csv(metric)
  print(reporting.format_per_class_table(metrics))
  key = f'{metrics["primary_iou_threshold"]:g}'
  print(f'{metric} mAP@{key}: {100 * metrics["mean_ap"]:.2f}%')
  if metric == VIDEO_AP:
    print(f'{metric} mAP averaged over IoU '
          f'{",".join(metrics["mean_ap_by_iou"])}: '
          f'{100 * metrics["mean_ap_over_thresholds"]:.2f}%')
  if metric == AVA_FRAME_AP:
    name = next(iter(metrics['official']))
    print(f'{name} = {metrics["official"][name]:.6f}')
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
