"""A run's training loss curve, read back from its TensorBoard event files.

The accuracy benchmark keeps each run's classification loss in result.json
and plots the curves next to the AP tables: whether a model has learned the
balls' flight shows as a sudden drop of that loss (docs/results). Training
writes the curve already (orbit's controller, one mean per `steps_per_loop`
steps, under `<run_dir>/train`); this module only reads it, with TF's
`tf.compat.v1.train.summary_iterator`, and orders what several event files
(a resumed run) hold.
"""

import glob
import os
from typing import Dict, List, Mapping, Sequence, Tuple

import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from acrn_tf.training import train_lib

Curve = List[Tuple[int, float]]


def _event_files(log_dir: str) -> List[str]:
  """log_dir's event files, oldest first (their names start with the time)."""
  def start_time(path):
    parts = os.path.basename(path).split('.')
    return (int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0,
            path)
  return sorted(glob.glob(os.path.join(log_dir, 'events.out.tfevents.*')),
                key=start_time)


def _scalar(value) -> float:
  if value.HasField('simple_value'):
    return float(value.simple_value)
  return float(tf.make_ndarray(value.tensor))


def read_scalars(log_dir: str, tag: str) -> Curve:
  """Every (step, value) of `tag` in log_dir's event files, by step.

  A step written twice (a run resumed from an earlier checkpoint) keeps the
  later file's value. A file cut short (a killed run) gives what it holds
  up to the cut.

  Returns:
    [(step, value)] sorted by step; empty when log_dir holds no such tag.
  """
  values: Dict[int, float] = {}
  for path in _event_files(log_dir):
    try:
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if value.tag == tag:
            values[int(event.step)] = _scalar(value)
    except tf.errors.DataLossError:
      continue
  return sorted(values.items())


def classification_loss(run_dir: str) -> Curve:
  """The box classifier's loss curve of the run trained in run_dir."""
  return read_scalars(os.path.join(run_dir, train_lib.TRAIN_DIR),
                      fields.LossFields.classification)


def plot_curves(path: str, curves: Mapping[str, Sequence[Sequence[float]]],
                title: str) -> None:
  """Writes a PNG of loss curves, label -> [(step, value)], to path."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  figure, axes = plt.subplots(figsize=(6.4, 3.6))
  for label, curve in curves.items():
    if curve:
      axes.plot([point[0] for point in curve], [point[1] for point in curve],
                label=label, linewidth=1.2)
  axes.set_xlabel('training step')
  axes.set_ylabel('classification loss')
  axes.set_title(title)
  axes.legend()
  figure.tight_layout()
  temporary = f'{path}.tmp-{os.getpid()}.png'
  figure.savefig(temporary, dpi=100)
  plt.close(figure)
  os.replace(temporary, path)
