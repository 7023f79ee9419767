"""The relation readout's report: partner offsets, markdown, JSON and a plot.

`relation_readout` computes; this module finds the stage's partner offsets
in a synthetic dataset's description and writes what was found.
"""

import json
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

_DATASET_INFO = 'dataset_info.json'
_OPTIMIZER_NAMES = {'momentum': 'Momentum SGD (0.9)', 'adam': 'Adam'}


def stage_partner_offsets(label_map_path: str) -> Tuple[List[float], str]:
  """The stage's neighbouring places, as fractions of the frame's width.

  A synthetic dataset writes dataset_info.json beside its label map; on
  the `stage` layout an actor's partners stand min_actor_separation_px to
  its left or right.

  Returns:
    ([-separation / width, +separation / width], a description of the
    source).

  Raises:
    ValueError: no dataset_info.json beside the label map, or its dataset
      is not of the stage layout (give the offsets yourself).
  """
  path = os.path.join(os.path.dirname(label_map_path), _DATASET_INFO)
  if not os.path.exists(path):
    raise ValueError(
        f'{path}: not found, so the partner offsets are unknown (the '
        'synthetic generator writes it beside the label map); give '
        '--partner_offsets_px.')
  with open(path) as f:
    config = json.load(f).get('config', {})
  if config.get('layout') != 'stage':
    raise ValueError(
        f'{path}: config.layout is {config.get("layout")!r}, not \'stage\': '
        'its actors have no fixed partner places; give '
        '--partner_offsets_px.')
  separation = float(config['min_actor_separation_px'])
  width = float(config['frame_width'])
  return ([-separation / width, separation / width],
          f'{path}: min_actor_separation_px {separation:g} of '
          f'frame_width {width:g}')


def _ap(value: Optional[float]) -> str:
  return '-' if value is None else f'{value:.1f}'


def format_markdown(summary: Mapping) -> str:
  """The readout as markdown (see `relation_readout` for what it means)."""
  classes = summary['class_names']
  relation = set(summary['relation_classes'])
  names = [f'{c} (relation)' if c in relation else c for c in classes]
  lines = [
      '# Relation readout',
      '',
      f'Run: `{summary["run_dir"]}` (checkpoint `{summary["checkpoint"]}`); '
      f'scene map {summary["endpoint"]} {summary["map_size"]}; '
      f'{summary["num_train_actors"]} training and '
      f'{summary["num_test_actors"]} test actors (groundtruth boxes).',
      '',
      f'Made on {summary["date"]} by `{summary["command"]}`.',
      '',
      '## Linear readout (test AP)',
      '',
      'Partner offsets: ' + ', '.join(
          f'{o:+.3f}' for o in summary['offsets']) +
      f' of the frame\'s width ({summary["offsets_source"]}).',
      '',
      '| inputs | ' + ' | '.join(names) + ' | relation mAP |',
      '|---' * (len(classes) + 2) + '|',
  ]
  for label, key in (('f_a', 'actor_only'),
                     ('f_a + F at the actor and the offsets', 'with_scene')):
    aps = summary['linear'][key]
    lines.append(f'| {label} | ' + ' | '.join(_ap(aps[c]) for c in classes)
                 + f' | {_ap(summary["linear"][key + "_relation_map"])} |')
  curve = summary['relation_module']['curve']
  # Reports written before the field existed had f_a in g_theta.
  g_theta_inputs = ('g_theta reads f_a' if summary['relation_module'].get(
      'actor_feature_in_g_theta', True) else 'g_theta without f_a')
  lines += [
      '',
      f'## Relation module `{summary["relation_module"]["name"]}` '
      f'(scene scale {summary["relation_module"]["scene_scales"]}; '
      f'{g_theta_inputs}), test AP while it trains',
      '',
      f'{_OPTIMIZER_NAMES[summary["relation_module"]["optimizer"]]}, '
      f'constant learning rate {summary["relation_module"]["lr"]:g}, '
      f'{summary["relation_module"]["batch_size"]} actors per step.',
      '',
      '| step | loss | ' + ' | '.join(names) + ' |',
      '|---' * (len(classes) + 2) + '|',
  ]
  for point in curve:
    lines.append(f'| {point["step"]} | {point["loss"]:.3f} | ' + ' | '.join(
        _ap(point['ap'][c]) for c in classes) + ' |')
  return '\n'.join(lines) + '\n'


def plot_curve(path: str, curve: Sequence[Mapping],
               classes: Sequence[str], linear: Mapping[str, Optional[float]]
               ) -> None:
  """Test AP of `classes` against steps; dashed: the linear readout's."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  figure, axes = plt.subplots(figsize=(6.4, 3.6))
  steps = [p['step'] for p in curve]
  for i, name in enumerate(classes):
    color = f'C{i}'
    values = [p['ap'][name] for p in curve]
    if all(v is None for v in values):
      continue
    axes.plot(steps, [float('nan') if v is None else v for v in values],
              '-o', color=color, markersize=3, label=f'{name}: module')
    if linear.get(name) is not None:
      axes.axhline(linear[name], color=color, linestyle='--', linewidth=1,
                   label=f'{name}: linear readout')
  axes.set_xlabel('training step of the relation module')
  axes.set_ylabel('test AP (%)')
  axes.set_ylim(0, 100)
  axes.legend(fontsize=7, loc='lower right')
  figure.tight_layout()
  temporary = path + '.tmp.png'
  figure.savefig(temporary, dpi=100)
  plt.close(figure)
  os.replace(temporary, path)


def write(output_dir: str, summary: Mapping) -> Dict[str, str]:
  """Writes readout.json, readout.md and readout.png; returns their paths."""
  os.makedirs(output_dir, exist_ok=True)
  paths = {name: os.path.join(output_dir, f'readout.{name}')
           for name in ('json', 'md', 'png')}
  for name, text in (('json', json.dumps(summary, indent=1) + '\n'),
                     ('md', format_markdown(summary))):
    temporary = paths[name] + '.tmp'
    with open(temporary, 'w') as f:
      f.write(text)
    os.replace(temporary, paths[name])
  plot_curve(paths['png'], summary['relation_module']['curve'],
             summary['relation_classes'], summary['linear']['with_scene'])
  return paths
