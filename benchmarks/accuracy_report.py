"""Tables and plots of the accuracy benchmark's results (docs/results.md).

Takes the per-run results of `accuracy.run_benchmark` and lays them out like
the paper's table 1a (frame-AP per relation model: mean, spread over seeds),
table 1b (Base-Model and ACRN against the clip length) and table 1c (ACRN's
scene maps: endpoints against scales), with per-class AP of Base-Model
against ACRN. Beside the frame-AP every table gives the relation mAP: the
mean AP over the classes another actor decides
(`synthetic_config.RELATION_CLASSES`, `relation_map`). Writes results.json,
results.md and PNG plots; the markdown names the command and the date it
was made with.
"""

import dataclasses
import datetime
import json
import math
import os
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from acrn_tf.data.synthetic import synthetic_config
from benchmarks import accuracy
from benchmarks import accuracy_budget
from benchmarks import accuracy_plots
from benchmarks import heatmap_localisation
from benchmarks import loss_history
from benchmarks import scene_map_specs

RESULTS_JSON = 'results.json'
RESULTS_MD = 'results.md'
AP_PER_MODEL_PNG = 'ap_per_model.png'
AP_VS_CLIP_LENGTH_PNG = 'ap_vs_clip_length.png'
PER_CLASS_AP_PNG = 'per_class_ap.png'
AP_PER_SCENE_MAP_PNG = 'ap_per_scene_map.png'
CLASSIFICATION_LOSS_PNG = 'classification_loss.png'
HEATMAPS_PNG = 'heatmaps.png'

# The two figures every table gives: a result's frame_ap, and the relation
# mAP computed from its per_class_ap (`relation_map`).
FRAME_AP = 'frame_ap'
RELATION_MAP = 'relation_map'
METRICS = (FRAME_AP, RELATION_MAP)
METRIC_TITLES = {FRAME_AP: 'frame-AP', RELATION_MAP: 'relation mAP'}


@dataclasses.dataclass(frozen=True)
class Summary:
  """Mean and spread of frame-AP (in AP points, 0-100) over runs."""
  mean: float
  std: float
  values: Sequence[float]

  @property
  def count(self) -> int:
    return len(self.values)


def summarize(values: Sequence[float]) -> Summary:
  """Mean and sample standard deviation (0 for one value) in AP points.

  None and NaN values (AP undefined) are left out.
  """
  points = [100.0 * v for v in values if v is not None and not math.isnan(v)]
  if not points:
    return Summary(float('nan'), float('nan'), ())
  std = float(np.std(points, ddof=1)) if len(points) > 1 else 0.0
  return Summary(float(np.mean(points)), std, tuple(points))


def relation_map(per_class_ap: Mapping[str, Optional[float]],
                 classes: Sequence[str] = synthetic_config.RELATION_CLASSES
                 ) -> Optional[float]:
  """The relation mAP: mean AP (0-1) over `classes`, as frame-AP means.

  A class absent from per_class_ap or with undefined AP (no groundtruth in
  the test split, None or NaN) is left out, as frame-AP leaves it out of
  its mean; None when no class is left.
  """
  values = [per_class_ap.get(name) for name in classes]
  values = [v for v in values if v is not None and not math.isnan(v)]
  return float(np.mean(values)) if values else None


def metric(result: Mapping, name: str = FRAME_AP) -> Optional[float]:
  """A run's frame_ap or relation mAP (0-1, None where undefined)."""
  if name == RELATION_MAP:
    return relation_map(result['per_class_ap'])
  if name != FRAME_AP:
    raise ValueError(f'metric must be one of {METRICS}, got {name!r}')
  return result[FRAME_AP]


def _points(value: Optional[float]) -> Optional[float]:
  return None if value is None else 100.0 * value


def _config_scene_maps(results: Sequence[Mapping]) -> List[Mapping]:
  """The runs with the base config's scene maps (not a table 1c variant)."""
  return [r for r in results if not r.get('scene_maps')]


def table_1a(results: Sequence[Mapping], frames_per_clip: int,
             name: str = FRAME_AP) -> Dict[str, Summary]:
  """Model -> summary over seeds of `metric` `name` at 1a's clip length."""
  results = _config_scene_maps(results)
  return {model: summarize([metric(r, name) for r in results
                            if r['model'] == model and
                            r['frames_per_clip'] == frames_per_clip])
          for model in accuracy.MODELS}


def loss_curves(results: Sequence[Mapping], seed: int, frames_per_clip: int,
                pretrain_result: Optional[Mapping] = None
                ) -> Dict[str, List]:
  """Title -> classification loss curve of table 1a's runs of `seed`.

  The pretraining run comes first when it has a curve; runs from before
  results kept their curve are left out.
  """
  curves = {}
  if pretrain_result and pretrain_result.get('classification_loss'):
    curves['Pretraining (Base-Model)'] = pretrain_result['classification_loss']
  for r in _config_scene_maps(results):
    if (r['seed'] == seed and r['frames_per_clip'] == frames_per_clip and
        r.get('classification_loss')):
      curves[accuracy.MODEL_TITLES[r['model']]] = r['classification_loss']
  return curves


def table_1b(results: Sequence[Mapping], seed: int, name: str = FRAME_AP
             ) -> Dict[int, Dict[str, Optional[float]]]:
  """Clip length -> model -> points of `metric` `name` (first seed)."""
  table: Dict[int, Dict[str, Optional[float]]] = {}
  for r in _config_scene_maps(results):
    if r['model'] in accuracy.CLIP_LENGTH_MODELS and r['seed'] == seed:
      table.setdefault(r['frames_per_clip'], {})[r['model']] = _points(
          metric(r, name))
  return {frames: {m: table[frames].get(m)
                   for m in accuracy.CLIP_LENGTH_MODELS}
          for frames in sorted(table)}


def per_class(results: Sequence[Mapping], frames_per_clip: int,
              models: Sequence[str] = accuracy.CLIP_LENGTH_MODELS
              ) -> Dict[str, Dict[str, Summary]]:
  """Class name -> model -> AP summary over seeds at 1a's clip length."""
  results = _config_scene_maps(results)
  names: List[str] = []
  for r in results:
    for name in r['per_class_ap']:
      if name not in names:
        names.append(name)
  return {name: {model: summarize([
      r['per_class_ap'][name] for r in results
      if r['model'] == model and r['frames_per_clip'] == frames_per_clip
      and name in r['per_class_ap']]) for model in models}
          for name in names}


def table_1c(results: Sequence[Mapping], seed: int, frames_per_clip: int,
             name: str = FRAME_AP
             ) -> Dict[float, Dict[str, Optional[float]]]:
  """Scale -> endpoints ('A+B') -> ACRN points of `metric` `name`.

  Every ACRN run of the seed and clip length whose scene maps share one
  scale, by `accuracy.RELATION_SCENE_MAPS`: table 1a's run is the cell of
  the base config's scene maps. Endpoints in the order first seen; a cell
  not run is None.
  """
  cells: Dict[float, Dict[str, Optional[float]]] = {}
  columns: List[str] = []
  for r in results:
    spec = r.get(accuracy.RELATION_SCENE_MAPS)
    if (r['model'] != accuracy.SCENE_MAP_MODEL or r['seed'] != seed or
        r['frames_per_clip'] != frames_per_clip or not spec):
      continue
    maps = scene_map_specs.parse(spec)
    scales = {scale for _, scale in maps}
    if len(scales) != 1:
      continue
    endpoints = '+'.join(endpoint for endpoint, _ in maps)
    if endpoints not in columns:
      columns.append(endpoints)
    cells.setdefault(scales.pop(), {})[endpoints] = _points(metric(r, name))
  if len(cells) == 1 and len(columns) == 1:
    return {}  # Only table 1a's run: there is no table 1c.
  return {scale: {c: cells[scale].get(c) for c in columns}
          for scale in sorted(cells)}


def _cell(summary: Summary, name: str = FRAME_AP) -> str:
  if summary.count == 0:
    return 'not run' if name == FRAME_AP else 'undefined'
  if summary.count == 1:
    return f'{summary.mean:.1f}'
  return f'{summary.mean:.1f} ± {summary.std:.1f}'


def _value_cell(points: Optional[float], name: str = FRAME_AP) -> str:
  """A first-seed cell: points with one decimal, or why there is none."""
  if points is None:
    return 'not run' if name == FRAME_AP else 'undefined'
  return f'{points:.1f}'


def _schedule(budget: accuracy_budget.Budget) -> str:
  """The runs' learning-rate schedule and ROI sampling, as a phrase."""
  if budget.constant_learning_rate is not None:
    text = f'a constant learning rate of {budget.constant_learning_rate:g}'
  else:
    text = f'{budget.warmup_steps} warm-up steps then cosine decay'
    if budget.learning_rate is not None:
      text += f' from a peak learning rate of {budget.learning_rate:g}'
  if budget.foreground_fraction == 1.0:
    text += ', actor ROIs only'
  elif budget.foreground_fraction is not None:
    text += f', foreground fraction {budget.foreground_fraction:g}'
  return text


def _dataset_overrides(budget: accuracy_budget.Budget) -> str:
  """' with num_train_videos=120, ...' for a budget that changes the preset."""
  if not budget.dataset_overrides:
    return ''
  overrides = sorted(budget.dataset_overrides.items())
  return ' with ' + ', '.join(f'{key}={value}' for key, value in overrides)


def _pretraining(budget: accuracy_budget.Budget,
                 pretrain_result: Optional[Mapping]) -> List[str]:
  """The paragraph on the pretraining run, if the budget has one."""
  if not budget.pretrain_steps:
    return []
  run = accuracy.pretrain_run(budget)
  ap = ('' if pretrain_result is None or pretrain_result['frame_ap'] is None
        else f', frame-AP {100 * pretrain_result["frame_ap"]:.1f} on the '
        'test split')
  return [
      'Every run starts from one pretrained network, as the paper\'s '
      'models all start from one pretrained S3D-G and person detector: a '
      f'Base-Model trained from scratch for {budget.pretrain_steps} steps '
      f'on the train split (seed {run.seed}, {run.frames_per_clip}-frame '
      f'clips{ap}). Its S3D-G, actor detector and actor head are copied '
      '(fine_tune_checkpoint_type SHARED_PARTS)' + (
          ' and stay frozen (train_config.frozen_part; their batch norm in '
          'inference mode), so every model classifies the same features and '
          'proposals and only its relation module, classifier and box '
          'regressor train' if budget.freeze_pretrained else '') +
      '; the relation module, the classifier and the box regressor start '
      'from their initial values. The steps above come after it.', '']


def _over(invocations: int) -> str:
  if invocations <= 1:
    return ''
  return (f' over {invocations} invocations, each continuing where the last '
          'stopped,')


def format_markdown(results: Sequence[Mapping], budget: accuracy_budget.Budget,
                    command: str, date: str, elapsed_minutes: float,
                    machine: str, plots: Mapping[str, str],
                    pretrain_result: Optional[Mapping] = None,
                    invocations: int = 1,
                    localisation: Optional[Mapping] = None,
                    relation_settings: str = '') -> str:
  """The results page: budget, tables 1a and 1b, per-class AP, plots.

  pretrain_result: the pretraining run's result (budget.pretrain_steps > 0).
  invocations: how many invocations elapsed_minutes is the sum of.
  localisation: `heatmap_localisation.summarize` of ACRN's runs, if any.
  relation_settings: `accuracy.relation_settings` of the base config.
  """
  seed = budget.seeds[0]
  rows_1a = {name: table_1a(results, budget.frames_per_clip, name)
             for name in METRICS}
  lines = [
      '# Accuracy benchmark: the paper\'s ablations in miniature', '',
      f'Generated by `{command}` on {date} ({elapsed_minutes:.0f} minutes'
      f'{_over(invocations)} on {machine}); do not edit by hand.', '',
      'Every model is trained on the synthetic relational dataset '
      f'(`docs/synthetic_dataset.md`, preset `{budget.preset}`'
      f'{_dataset_overrides(budget)}) with the same budget and evaluated '
      f'on its test split. Budget `{budget.name}`: '
      f'{budget.num_steps} steps of batch '
      f'{results[0]["batch_size"] if results else "?"}, '
      f'{_schedule(budget)}, '
      f'{budget.frames_per_clip}-frame clips, seeds '
      f'{", ".join(str(s) for s in budget.seeds)}; '
      f'{results[0]["num_test_keyframes"] if results else "?"} test '
      'keyframes. Frame-AP at IoU 0.5, in points (mean ± sample standard '
      'deviation over seeds). The relation mAP is the mean AP over the '
      'classes another actor decides '
      f'({", ".join(f"`{c}`" for c in synthetic_config.RELATION_CLASSES)}: '
      'the one passed to, the one looked at), the classes with '
      'groundtruth among them.', '']
  if relation_settings:
    lines += [relation_settings, '']
  lines += _pretraining(budget, pretrain_result)
  lines += [
      '## Relation models (paper table 1a)', '',
      '| Model | frame-AP | vs Base-Model | relation mAP | vs Base-Model '
      '| runs |',
      '|---|---|---|---|---|---|']
  for model in accuracy.MODELS:
    cells = []
    for name in METRICS:
      summary = rows_1a[name][model]
      base = rows_1a[name]['base']
      delta = ('' if model == 'base' or summary.count == 0 or
               base.count == 0 else f'{summary.mean - base.mean:+.1f}')
      cells += [_cell(summary, name), delta]
    lines.append(f'| {accuracy.MODEL_TITLES[model]} | ' + ' | '.join(cells)
                 + f' | {rows_1a[FRAME_AP][model].count} |')
  lines += ['', f'![frame-AP per model]({plots[AP_PER_MODEL_PNG]})', '']
  if CLASSIFICATION_LOSS_PNG in plots:
    lines += [f'Training curves of seed {seed}: the classification loss, '
              'one mean per logging loop, read from each run\'s '
              'TensorBoard logs (`train/` in its run directory; every run\'s '
              'curve is in results.json).', '',
              f'![classification loss]({plots[CLASSIFICATION_LOSS_PNG]})', '']
  lines += ['## Temporal context (paper table 1b)', '',
            f'Seed {seed}, the same budget at every clip length.', '',
            '| Frames | ' + ' | '.join(
                f'{accuracy.MODEL_TITLES[m]} {METRIC_TITLES[name]}'
                for name in METRICS for m in accuracy.CLIP_LENGTH_MODELS)
            + ' |',
            '|---|' + '---|' * (len(METRICS) *
                                len(accuracy.CLIP_LENGTH_MODELS))]
  tables_1b = {name: table_1b(results, seed, name) for name in METRICS}
  for frames in tables_1b[FRAME_AP]:
    cells = [_value_cell(tables_1b[name][frames][m], name)
             for name in METRICS for m in accuracy.CLIP_LENGTH_MODELS]
    lines.append(f'| {frames} | ' + ' | '.join(cells) + ' |')
  lines += ['', f'![frame-AP against clip length]'
            f'({plots[AP_VS_CLIP_LENGTH_PNG]})', '']
  lines += _table_1c_lines(results, budget, plots)
  lines += ['## Per-class AP, Base-Model and ACRN', '',
            '| Class | Base-Model | ACRN |', '|---|---|---|']
  for name, by_model in per_class(results, budget.frames_per_clip).items():
    shown = (f'{name} (relation)' if name in synthetic_config.RELATION_CLASSES
             else name)
    lines.append(f'| {shown} | {_cell(by_model["base"])} | '
                 f'{_cell(by_model["acrn"])} |')
  lines += ['', f'![per-class AP]({plots[PER_CLASS_AP_PNG]})', '']
  if HEATMAPS_PNG in plots:
    lines += ['## Relation heat maps', '',
              'ACRN (seed 0) on test keyframes: each detected actor\'s '
              'relation heat map (paper 3.4), maximum over the shown '
              'actors, over the keyframe.', '',
              f'![ACRN heat maps]({plots[HEATMAPS_PNG]})', '']
  lines += heatmap_localisation.format_markdown(localisation)
  lines += ['## Every run', '',
            '| Run | frame-AP | relation mAP | train s | eval s |',
            '|---|---|---|---|---|']
  for r in results:
    aps = ['undefined' if value is None else f'{100 * value:.2f}'
           for value in (metric(r, name) for name in METRICS)]
    lines.append(f'| {r["name"]} | ' + ' | '.join(aps) + ' | '
                 f'{r["train_seconds"]:.0f} | {r["eval_seconds"]:.0f} |')
  return '\n'.join(lines) + '\n'


def _table_1c_lines(results: Sequence[Mapping], budget: accuracy_budget.Budget,
                    plots: Mapping[str, str]) -> List[str]:
  """The table 1c section, or nothing when no run varied the scene maps."""
  table = table_1c(results, budget.seeds[0], budget.frames_per_clip)
  if not table:
    return []
  relation = table_1c(results, budget.seeds[0], budget.frames_per_clip,
                      RELATION_MAP)
  columns = list(next(iter(table.values())))
  lines = ['## Scene maps (paper table 1c)', '',
           f'ACRN, seed {budget.seeds[0]}, relating each actor to other '
           'S3D-G endpoints (temporally flattened), each resized by the '
           'scale; several endpoints are resized to the largest and '
           'concatenated. The cell of the base config\'s own scene maps is '
           'table 1a\'s run. Each cell: frame-AP / relation mAP.', '',
           '| Scale | ' + ' | '.join(c.replace('+', ', ') for c in columns)
           + ' |', '|---|' + '---|' * len(columns)]
  for scale, row in table.items():
    cells = ['not run' if row[c] is None else
             f'{row[c]:.1f} / {_value_cell(relation[scale][c], RELATION_MAP)}'
             for c in columns]
    lines.append(f'| {scale:g} | ' + ' | '.join(cells) + ' |')
  if AP_PER_SCENE_MAP_PNG in plots:
    lines += ['', f'![frame-AP per scene map]({plots[AP_PER_SCENE_MAP_PNG]})']
  return lines + ['']


def _table_1a_json(results: Sequence[Mapping], budget: accuracy_budget.Budget
                   ) -> Dict[str, Dict[str, Dict]]:
  """Table 1a for results.json: metric -> model -> mean, std, values."""
  return {name: {model: {'mean': None if not summary.count else summary.mean,
                         'std': None if not summary.count else summary.std,
                         'values': list(summary.values)}
                 for model, summary in table_1a(
                     results, budget.frames_per_clip, name).items()}
          for name in METRICS}


def write_report(output_dir: str, results: Sequence[Mapping],
                 budget: accuracy_budget.Budget, command: str,
                 elapsed_minutes: float, machine: str,
                 heatmaps_png: Optional[str] = None,
                 date: Optional[str] = None,
                 pretrain_result: Optional[Mapping] = None,
                 invocations: int = 1,
                 localisation: Optional[Mapping] = None,
                 relation_settings: str = '') -> Dict[str, str]:
  """Writes results.json, results.md and the plots; returns their paths.

  Args:
    output_dir: where to write (created).
    results: `accuracy.run_benchmark` results.
    budget: the budget they were run with.
    command: the command line, quoted in the page.
    elapsed_minutes: the benchmark's wall time (summed over invocations).
    machine: a one-line description of the machine.
    heatmaps_png: a heat-map PNG already in output_dir to show, if any.
    date: ISO date (default today, UTC).
    pretrain_result: the pretraining run's result, if the budget has one.
    invocations: how many invocations elapsed_minutes is the sum of.
    localisation: `heatmap_localisation.summarize` of ACRN's seed runs
      (the heat-map localisation figure), if any.
    relation_settings: `accuracy.relation_settings` of the base config.
  """
  os.makedirs(output_dir, exist_ok=True)
  date = date or datetime.datetime.now(datetime.timezone.utc).strftime(
      '%Y-%m-%d')
  names = {AP_PER_MODEL_PNG: 'accuracy_' + AP_PER_MODEL_PNG,
           AP_VS_CLIP_LENGTH_PNG: 'accuracy_' + AP_VS_CLIP_LENGTH_PNG,
           PER_CLASS_AP_PNG: 'accuracy_' + PER_CLASS_AP_PNG}
  paths = {key: os.path.join(output_dir, name) for key, name in names.items()}
  accuracy_plots.plot_ap_per_model(
      paths[AP_PER_MODEL_PNG],
      {METRIC_TITLES[name]: table_1a(results, budget.frames_per_clip, name)
       for name in METRICS})
  accuracy_plots.plot_ap_vs_clip_length(
      paths[AP_VS_CLIP_LENGTH_PNG],
      {METRIC_TITLES[name]: table_1b(results, budget.seeds[0], name)
       for name in METRICS})
  accuracy_plots.plot_per_class(paths[PER_CLASS_AP_PNG],
                                per_class(results, budget.frames_per_clip))
  scene_table = table_1c(results, budget.seeds[0], budget.frames_per_clip)
  if scene_table:
    names[AP_PER_SCENE_MAP_PNG] = 'accuracy_' + AP_PER_SCENE_MAP_PNG
    paths[AP_PER_SCENE_MAP_PNG] = os.path.join(
        output_dir, names[AP_PER_SCENE_MAP_PNG])
    accuracy_plots.plot_ap_per_scene_map(
        paths[AP_PER_SCENE_MAP_PNG], scene_table,
        table_1c(results, budget.seeds[0], budget.frames_per_clip,
                 RELATION_MAP))
  curves = loss_curves(results, budget.seeds[0], budget.frames_per_clip,
                       pretrain_result)
  if curves:
    names[CLASSIFICATION_LOSS_PNG] = 'accuracy_' + CLASSIFICATION_LOSS_PNG
    paths[CLASSIFICATION_LOSS_PNG] = os.path.join(
        output_dir, names[CLASSIFICATION_LOSS_PNG])
    loss_history.plot_curves(
        paths[CLASSIFICATION_LOSS_PNG], curves,
        f'Classification loss while training (seed {budget.seeds[0]})')
  if heatmaps_png:
    names[HEATMAPS_PNG] = os.path.basename(heatmaps_png)
  markdown = format_markdown(results, budget, command, date, elapsed_minutes,
                             machine, names, pretrain_result, invocations,
                             localisation, relation_settings)
  written = dict(paths)
  for name, text in (
      (RESULTS_MD, markdown),
      (RESULTS_JSON, json.dumps(
          {'command': command, 'date': date, 'machine': machine,
           'elapsed_minutes': round(elapsed_minutes, 1),
           'invocations': invocations,
           'budget': dataclasses.asdict(budget),
           'relation_classes': list(synthetic_config.RELATION_CLASSES),
           'table_1a': _table_1a_json(results, budget),
           'heatmap_localisation': localisation,
           'pretrain': pretrain_result,
           'runs': [dict(r, relation_map=metric(r, RELATION_MAP))
                    for r in results]},
          indent=2) + '\n')):
    path = os.path.join(output_dir, name)
    temporary = f'{path}.tmp-{os.getpid()}'
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write(text)
    os.replace(temporary, path)
    written[name] = path
  return written
