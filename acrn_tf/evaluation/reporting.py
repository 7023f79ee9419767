"""Writes the results of an evaluation: JSON, per-class csv, P/R plot, table.

Takes the metrics dict every evaluator of `acrn_tf.evaluation` returns (the
layout of `average_precision.build_metrics`). Files are written atomically:
to a hidden temporary name beside the target, then `os.replace`d. The table
is returned as a string: printing is the caller's business.
"""

import contextlib
import csv
import io
import json
import math
import os
from typing import Dict, Optional

import numpy as np

from acrn_tf.evaluation import average_precision

METRICS_JSON = 'metrics.json'
PER_CLASS_AP_CSV = 'per_class_ap.csv'
PR_CURVES_PNG = 'pr_curves.png'
# Up to this many classes share one axes; more get a grid of small ones.
_MAX_CURVES_PER_AXES = 12


@contextlib.contextmanager
def atomic_output(path: str):
  """Yields a temporary path beside `path`; renames it to `path` on success."""
  directory, base = os.path.split(os.path.abspath(path))
  stem, extension = os.path.splitext(base)
  temporary = os.path.join(directory, f'.{stem}.tmp-{os.getpid()}{extension}')
  try:
    yield temporary
    os.replace(temporary, path)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)


def _jsonable(value):
  """Plain JSON types; nan/inf become None (JSON has no NaN)."""
  if isinstance(value, dict):
    return {str(k): _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if isinstance(value, np.ndarray):
    return _jsonable(value.tolist())
  if isinstance(value, (np.integer,)):
    return int(value)
  if isinstance(value, (float, np.floating)):
    value = float(value)
    return value if math.isfinite(value) else None
  return value


def metrics_to_json(metrics: Dict, include_curves: bool = False) -> str:
  """The metrics as indented JSON (P/R curves left out unless asked)."""
  content = {k: v for k, v in metrics.items()
             if include_curves or k != 'pr_curves'}
  return json.dumps(_jsonable(content), indent=2, sort_keys=False,
                    allow_nan=False) + '\n'


def write_metrics_json(path: str, metrics: Dict,
                       include_curves: bool = False) -> None:
  """Writes `metrics_to_json(metrics)` to `path` atomically."""
  text = metrics_to_json(metrics, include_curves)
  with atomic_output(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write(text)


def _threshold_keys(metrics: Dict):
  return [average_precision.iou_key(t) for t in metrics['iou_thresholds']]


def write_per_class_ap_csv(path: str, metrics: Dict) -> None:
  """Writes `id,name,num_groundtruth,num_detections,AP@<t>...` per class.

  A class without ground truth has an empty AP cell (AP undefined).
  """
  keys = _threshold_keys(metrics)
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator='\n')
  writer.writerow(['id', 'name', 'num_groundtruth', 'num_detections'] +
                  [f'AP@{k}' for k in keys])
  for entry in metrics['classes']:
    aps = [entry['ap_by_iou'][k] for k in keys]
    writer.writerow([entry['id'], entry['name'], entry['num_groundtruth'],
                     entry['num_detections']] +
                    ['' if math.isnan(ap) else f'{ap:.6f}' for ap in aps])
  with atomic_output(path) as temporary:
    with open(temporary, 'w', encoding='utf-8', newline='') as f:
      f.write(buffer.getvalue())


def format_per_class_table(metrics: Dict) -> str:
  """A text table: one row per class (id, name, #gt, #det, AP per IoU), mAP.

  Classes without ground truth show '-' (AP undefined: VOC and AVA leave
  them out of the mean; the ACT protocol counts them as 0). A last line
  names the protocol that made the figures, when the metrics say it.
  """
  keys = _threshold_keys(metrics)
  header = ['id', 'name', 'gt', 'det'] + [f'AP@{k}' for k in keys]
  rows = [header]
  for entry in metrics['classes']:
    rows.append([str(entry['id']), entry['name'], str(entry['num_groundtruth']),
                 str(entry['num_detections'])] +
                [_percent(entry['ap_by_iou'][k]) for k in keys])
  rows.append(['', 'mean', '', ''] +
              [_percent(metrics['mean_ap_by_iou'][k]) for k in keys])
  widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
  lines = []
  for index, row in enumerate(rows):
    cells = [c.ljust(w) if i == 1 else c.rjust(w)
             for i, (c, w) in enumerate(zip(row, widths))]
    if index == len(rows) - 1:
      lines.append('-' * len('  '.join(cells)))
    lines.append('  '.join(cells).rstrip())
  if metrics.get('protocol'):
    lines.append(f'protocol: {metrics["protocol"]}')
  return '\n'.join(lines)


def _percent(value: float) -> str:
  return '-' if value is None or math.isnan(value) else f'{100 * value:.2f}'


def scalar_summaries(metrics: Dict, prefix: Optional[str] = None
                     ) -> Dict[str, float]:
  """Flat name -> value for TensorBoard, OD API style.

  E.g. 'frame_ap/mAP@0.5IOU' and
  'frame_ap/PerformanceByCategory/AP@0.5IOU/<name>' (classes without ground
  truth left out).
  """
  prefix = prefix or metrics['metric']
  scalars = {}
  for key in _threshold_keys(metrics):
    scalars[f'{prefix}/mAP@{key}IOU'] = metrics['mean_ap_by_iou'][key]
  for key in _threshold_keys(metrics):
    for entry in metrics['classes']:
      if entry['num_groundtruth']:
        scalars[f'{prefix}/PerformanceByCategory/AP@{key}IOU/'
                f'{entry["name"]}'] = entry['ap_by_iou'][key]
  return scalars


def plot_pr_curves(path: str, metrics: Dict,
                   iou_threshold: Optional[float] = None) -> None:
  """Writes a PNG of the precision/recall curve of each class with gt.

  Up to 12 classes share one axes (legend with AP); more are drawn as a grid
  of one small axes per class.

  Args:
    path: the PNG to write.
    metrics: an evaluator's metrics dict (with 'pr_curves').
    iou_threshold: which threshold's curves (default the primary one).
  """
  # Imported here: training imports this module and rarely plots. A bare
  # Figure renders with Agg and leaves pyplot's global backend alone.
  from matplotlib import figure  # pylint: disable=g-import-not-at-top

  if iou_threshold is None:
    iou_threshold = metrics['primary_iou_threshold']
  key = average_precision.iou_key(iou_threshold)
  curves = metrics['pr_curves'].get(key)
  if curves is None:
    raise ValueError(f'metrics have no P/R curves at IoU {key}; thresholds: '
                     f'{_threshold_keys(metrics)}')
  entries = [e for e in metrics['classes'] if e['id'] in curves]
  title = (f'{metrics["metric"]}: precision/recall at IoU {key}, '
           f'mAP {_percent(metrics["mean_ap_by_iou"][key])}')
  if metrics.get('protocol'):
    title += f'\n{metrics["protocol"]}'
  if len(entries) <= _MAX_CURVES_PER_AXES:
    canvas = figure.Figure(figsize=(7, 5.5))
    axes = canvas.subplots()
    for entry in entries:
      curve = curves[entry['id']]
      axes.plot(_plot_x(curve), _plot_y(curve),
                label=f'{entry["name"]} ({_percent(entry["ap_by_iou"][key])})')
    _style_axes(axes)
    if entries:
      axes.legend(fontsize=8, loc='lower left')
    axes.set_title(title, fontsize=10)
  else:
    columns = int(math.ceil(math.sqrt(len(entries))))
    rows = int(math.ceil(len(entries) / columns))
    canvas = figure.Figure(figsize=(2.2 * columns, 2.0 * rows))
    grid = canvas.subplots(rows, columns, squeeze=False, sharex=True,
                           sharey=True)
    for index, axes in enumerate(grid.reshape(-1)):
      if index >= len(entries):
        axes.axis('off')
        continue
      entry = entries[index]
      curve = curves[entry['id']]
      axes.plot(_plot_x(curve), _plot_y(curve), linewidth=1)
      _style_axes(axes, labels=False)
      axes.set_xticks([0.0, 0.5, 1.0])
      axes.set_yticks([0.0, 0.5, 1.0])
      axes.tick_params(labelsize=6)
      axes.set_title(f'{entry["name"][:24]} '
                     f'{_percent(entry["ap_by_iou"][key])}', fontsize=7)
    canvas.suptitle(title, fontsize=10)
    # Fixed margins: tight_layout costs seconds on a 60-axes grid.
    canvas.subplots_adjust(left=0.06, right=0.98, bottom=0.06, top=0.9,
                           wspace=0.15, hspace=0.45)
  if len(entries) <= _MAX_CURVES_PER_AXES:
    canvas.tight_layout()
  with atomic_output(path) as temporary:
    canvas.savefig(temporary, format='png', dpi=100)


def _plot_x(curve):
  return np.concatenate([[0.0], np.asarray(curve['recall'])])


def _plot_y(curve):
  precision = np.asarray(curve['precision'])
  return np.concatenate([[precision[0] if precision.size else 0.0],
                         precision])


def _style_axes(axes, labels=True):
  axes.set_xlim(0, 1)
  axes.set_ylim(0, 1.02)
  axes.grid(alpha=0.3)
  if labels:
    axes.set_xlabel('recall')
    axes.set_ylabel('precision')


def write_report(output_dir: str, metrics: Dict) -> Dict[str, str]:
  """Writes metrics.json, per_class_ap.csv and pr_curves.png to a directory.

  Returns:
    name -> path of each file written.
  """
  os.makedirs(output_dir, exist_ok=True)
  paths = {
      METRICS_JSON: os.path.join(output_dir, METRICS_JSON),
      PER_CLASS_AP_CSV: os.path.join(output_dir, PER_CLASS_AP_CSV),
      PR_CURVES_PNG: os.path.join(output_dir, PR_CURVES_PNG),
  }
  write_metrics_json(paths[METRICS_JSON], metrics)
  write_per_class_ap_csv(paths[PER_CLASS_AP_CSV], metrics)
  plot_pr_curves(paths[PR_CURVES_PNG], metrics)
  return paths
