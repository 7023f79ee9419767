"""The accuracy report's PNG plots: AP per model, clip length, scene map, class.

`accuracy_report` computes the tables; these functions only draw them.
"""

from typing import Mapping

import numpy as np

from benchmarks import accuracy


def plot_ap_per_scene_map(path: str, table: Mapping, relation_table: Mapping
                          ) -> None:
  """Bars: frame-AP per endpoint and scale; diamonds: their relation mAP.

  Args:
    path: the PNG.
    table, relation_table: scale -> endpoints -> points (or None), as
      `accuracy_report.table_1c` gives them for each metric.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  columns = list(next(iter(table.values())))
  figure, axes = plt.subplots(figsize=(7.2, 3.6))
  width = 0.8 / len(table)
  for i, (scale, row) in enumerate(table.items()):
    values = [row[c] if row[c] is not None else 0.0 for c in columns]
    positions = np.arange(len(columns)) + (i - (len(table) - 1) / 2) * width
    axes.bar(positions, values, width, label=f'scale {scale:g}')
    relation = [(x, relation_table[scale][c]) for x, c in
                zip(positions, columns)
                if relation_table[scale][c] is not None]
    if relation:
      axes.plot([p[0] for p in relation], [p[1] for p in relation], 'kD',
                markersize=5,
                label='relation mAP' if i == 0 else None)
  axes.set_xticks(range(len(columns)),
                  [c.replace('+', '+\n') for c in columns], fontsize=8)
  axes.set_ylabel('AP @0.5 (points)')
  axes.set_title('ACRN scene maps: endpoint and scale (bars: frame-AP)')
  axes.legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def plot_ap_per_model(path: str, rows: Mapping[str, Mapping]) -> None:
  """Per model a bar per metric, the second hatched: mean ± std, seeds.

  Args:
    path: the PNG.
    rows: metric title -> model -> summary (mean, std, count, values), as
      `accuracy_report.table_1a` gives them.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  models = list(accuracy.MODELS)
  figure, axes = plt.subplots(figsize=(7.2, 3.6))
  width = 0.38
  colors = ['#888888', '#6a9fd4', '#8fc97e', '#e0833a']
  for (offset, hatch), (title, summaries) in zip(
      ((-width / 2, None), (width / 2, '//')), rows.items()):
    means = [summaries[m].mean if summaries[m].count else 0.0 for m in models]
    stds = [summaries[m].std if summaries[m].count > 1 else 0.0
            for m in models]
    axes.bar(np.arange(len(models)) + offset, means, width, yerr=stds,
             capsize=4, color=colors, hatch=hatch, edgecolor='black',
             linewidth=0.5, label=title)
    for i, m in enumerate(models):
      for value in summaries[m].values:
        axes.plot(i + offset, value, 'k.', markersize=5)
  axes.set_xticks(range(len(models)),
                  [accuracy.MODEL_TITLES[m].split(' (')[0] for m in models])
  axes.set_ylabel('AP @0.5 (points)')
  axes.set_title('Relation models: mean ± std over seeds (dots: seeds)')
  axes.legend(loc='lower right')
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def plot_ap_vs_clip_length(path: str, tables: Mapping[str, Mapping]) -> None:
  """Each metric against the clip length, the first solid, the second dashed.

  Args:
    path: the PNG.
    tables: metric title -> clip length -> model -> points (or None), as
      `accuracy_report.table_1b` gives them.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  figure, axes = plt.subplots(figsize=(6.4, 3.6))
  for line, (title, table) in zip(('-', '--'), tables.items()):
    for model, marker, color in zip(accuracy.CLIP_LENGTH_MODELS, 'os',
                                    ('#888888', '#e0833a')):
      points = [(f, row[model]) for f, row in table.items()
                if row[model] is not None]
      if points:
        axes.plot([p[0] for p in points], [p[1] for p in points],
                  marker + line, color=color,
                  label=f'{accuracy.MODEL_TITLES[model]} {title}')
  axes.set_xscale('log', base=2)
  table = next(iter(tables.values()))
  axes.set_xticks(list(table), [str(f) for f in table])
  axes.set_xlabel('frames per clip')
  axes.set_ylabel('AP @0.5 (points)')
  axes.set_title('Temporal context')
  axes.legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def plot_per_class(path: str, classes: Mapping) -> None:
  """Base-Model and ACRN bars per class (`accuracy_report.per_class`)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  names = list(classes)
  figure, axes = plt.subplots(figsize=(7.2, 3.6))
  width = 0.38
  for offset, model, color in ((-width / 2, 'base', '#888888'),
                               (width / 2, 'acrn', '#e0833a')):
    means = [classes[n][model].mean if classes[n][model].count else 0.0
             for n in names]
    stds = [classes[n][model].std if classes[n][model].count > 1 else 0.0
            for n in names]
    axes.bar(np.arange(len(names)) + offset, means, width, yerr=stds,
             capsize=3, color=color, label=accuracy.MODEL_TITLES[model])
  axes.set_xticks(range(len(names)), names)
  axes.set_ylabel('AP @0.5 (points)')
  axes.set_title('Per-class AP')
  axes.legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
