"""The `speed` sections about training: steps/s and memory, and the input.

`training_section` times the training step per precision and XLA setting,
each in a fresh process, and leaves the fastest rate in the run's context;
`input_section` compares the input pipeline's examples/s with that rate.
Both return `performance_report.section` dicts (see `speed_sections`).
"""

from typing import Dict, List, Optional, Tuple

from benchmarks import input_throughput
from benchmarks import performance_report as report_lib
from benchmarks import speed
from benchmarks import speed_sections as sections
from benchmarks import training_speed

INPUT_RATIO_GOAL = 3.0
TRAINING_KEY = 'training_examples_per_second'
_INPUT_WARMUP_BATCHES = 3


def _mb(value: Optional[int]) -> str:
  return '-' if value is None else f'{value / 2**20:.0f}'


# Training variants: (label, precision policy, XLA); XLA per options.
_USE_XLA_FIELD = 'model.video_faster_rcnn.use_xla'
_PRECISION_FIELD = 'train_config.mixed_precision'
TRAINING_PRECISIONS = (('float32', 'FLOAT32'),
                       ('mixed_bfloat16', 'MIXED_BFLOAT16'))
XLA_TRAINING_GOAL = 1.5


def training_variants(xla_modes) -> List[Tuple[str, bool, List[str]]]:
  """(label, use_xla, config overrides) of each timed training variant."""
  variants = []
  for label, value in TRAINING_PRECISIONS:
    for use_xla in xla_modes:
      variants.append((f'{label}, {speed.xla_label(use_xla)}', use_xla, [
          f'{_PRECISION_FIELD}={value}',
          f'{_USE_XLA_FIELD}={"true" if use_xla else "false"}']))
  return variants


def _rate_ratio(results, numerator: str, denominator: str
                ) -> Optional[float]:
  top, bottom = results.get(numerator), results.get(denominator)
  if top is None or bottom is None:
    return None
  return top.steps_per_second / bottom.steps_per_second


def training_section(options, context: Dict) -> Dict:
  """Training steps/s and peak memory per precision and XLA setting.

  Each variant runs in a fresh process; the ratios compare variants of
  this one run.
  """
  factory, found = training_speed.find_train_step_factory()
  if factory is None:
    return report_lib.section(
        sections.TITLES['training'], report_lib.STATUS_NOT_AVAILABLE,
        reason=f'the training library has no train step yet: {found}.')
  del factory  # Found here; used in a fresh process for a clean RSS peak.
  results = {}
  rows = []
  variants = []
  for label, use_xla, overrides in training_variants(options.xla_modes):
    result = training_speed.measure_training_isolated(
        options.training_config, options.training_steps,
        max(options.num_warmup, 1), None, overrides)
    results[label] = result
    stats = result.stats
    clip = 'x'.join(str(d) for d in result.clip_shape)
    rows.append([label, str(result.batch_size), clip,
                 sections.ms(stats.median_seconds), sections.spread(stats),
                 sections.num(result.steps_per_second, 2),
                 sections.num(result.examples_per_second, 1),
                 sections.num(stats.warmup_seconds, 1),
                 _mb(result.peak_rss_bytes),
                 _mb(result.process_peak_rss_bytes)])
    variants.append({
        'label': label, 'overrides': overrides,
        'steps_per_second': result.steps_per_second,
        'examples_per_second': result.examples_per_second,
        'peak_rss_bytes': result.peak_rss_bytes,
        'start_rss_bytes': result.start_rss_bytes,
        'process_peak_rss_bytes': result.process_peak_rss_bytes,
        'step': sections.mode_data(speed.TimedMode(label, use_xla, stats)),
    })
  first = next(iter(results.values()))
  # The input pipeline must keep up with the fastest variant.
  context[TRAINING_KEY] = max(r.examples_per_second
                              for r in results.values())
  stats = first.stats
  notes = [
      f'{stats.num_repeats} training steps of {options.training_config} '
      f'per variant, timed after {stats.num_warmup} warm-up step(s) '
      '(tracing and XLA compilation: the "compile s" column), each on the '
      'same synthetic batch of the train reader\'s size (the input pipeline '
      'is measured apart). Variants set train_config.mixed_precision and '
      'model.video_faster_rcnn.use_xla; the step is '
      f'{found}.',
      'Each variant is measured in a fresh process (spawned), so earlier '
      'measurements\' memory is not counted. Peak RSS: sampled every 10 ms '
      'while the model and step were built and run (TensorFlow\'s own '
      f'baseline included: {_mb(first.start_rss_bytes)} MB before '
      'building); process peak: the kernel\'s high-water mark (VmHWM) of '
      'that process.',
  ]
  ratios = {}
  for label, _ in TRAINING_PRECISIONS:
    ratio = _rate_ratio(results, f'{label}, xla', f'{label}, no xla')
    if ratio is not None:
      ratios[f'xla / no xla ({label})'] = ratio
      verdict = 'meets' if ratio >= XLA_TRAINING_GOAL else 'misses'
      notes.append(f'Steps/s with XLA / without, {label}: {ratio:.2f}x, '
                   f'{verdict} the goal of {XLA_TRAINING_GOAL:g}x.')
  for mode in options.xla_modes:
    xla = speed.xla_label(mode)
    ratio = _rate_ratio(results, f'mixed_bfloat16, {xla}', f'float32, {xla}')
    if ratio is not None:
      ratios[f'mixed_bfloat16 / float32 ({xla})'] = ratio
      notes.append(f'Steps/s in mixed_bfloat16 / float32, {xla}: '
                   f'{ratio:.2f}x.')
  data = {
      'factory': found, 'config_path': options.training_config,
      'batch_size': first.batch_size,
      'clip_shape': list(first.clip_shape),
      'steps_per_second': first.steps_per_second,
      'examples_per_second': first.examples_per_second,
      'peak_rss_bytes': first.peak_rss_bytes,
      'start_rss_bytes': first.start_rss_bytes,
      'process_peak_rss_bytes': first.process_peak_rss_bytes,
      'variants': variants, 'ratios': ratios,
      'xla_goal': XLA_TRAINING_GOAL,
  }
  return report_lib.section(
      sections.TITLES['training'], notes=notes,
      columns=['variant', 'batch', 'clip', 'median ms', 'spread', 'steps/s',
               'examples/s', 'compile s', 'peak RSS MB', 'process peak MB'],
      rows=rows, data=data,
      chart=report_lib.bar_chart(
          'Training steps per second', 'steps/s', list(results),
          [r.steps_per_second for r in results.values()]))


def input_section(options, context: Dict) -> Dict:
  """Input pipeline examples/s against what training consumes."""
  result = input_throughput.measure_input_pipeline(
      options.training_config, options.input_batches, _INPUT_WARMUP_BATCHES)
  consumed = context.get(TRAINING_KEY)
  ratio = (result.examples_per_second / consumed) if consumed else None
  clip = 'x'.join(str(d) for d in result.clip_shape)
  rows = [[options.training_config, str(result.batch_size),
           clip + (' + flow' if result.use_flow else ''),
           sections.num(result.examples_per_second, 1),
           sections.num(consumed, 1),
           '-' if ratio is None else f'{ratio:.1f}x']]
  stats = result.stats
  notes = [
      f'The train input pipeline (dataset_builder, training mode with its '
      f'augmentation) timed over {stats["num_batches"]} batches '
      f'({stats["num_examples"]} examples) after {_INPUT_WARMUP_BATCHES} '
      'warm-up batches, alone: while training, both share the CPU.',
  ]
  if result.synthetic_records:
    notes.append('The config\'s records do not exist here: random records of '
                 'the same clip size were written to a temporary directory '
                 'and read instead.')
  if ratio is None:
    notes.append('Ratio to training: not available (the training section '
                 'did not run or had no train step).')
  else:
    verdict = 'meets' if ratio >= INPUT_RATIO_GOAL else 'misses'
    notes.append(f'The pipeline delivers {ratio:.1f}x what training consumes '
                 f'(examples/s), {verdict} the goal of '
                 f'{INPUT_RATIO_GOAL:g}x.')
  data = {
      'config_path': options.training_config, 'records': result.records,
      'synthetic_records': result.synthetic_records,
      'batch_size': result.batch_size,
      'clip_shape': list(result.clip_shape),
      'examples_per_second': result.examples_per_second,
      'training_examples_per_second': consumed,
      'ratio_to_training': ratio, 'ratio_goal': INPUT_RATIO_GOAL,
      'stats': stats,
  }
  chart = None
  if consumed:
    chart = report_lib.bar_chart(
        'Input pipeline against training', 'examples/s',
        ['input pipeline', 'training consumes'],
        [result.examples_per_second, consumed])
  return report_lib.section(
      sections.TITLES['input'], notes=notes,
      columns=['config', 'batch', 'clip', 'input examples/s',
               'training examples/s', 'ratio'],
      rows=rows, chart=chart, data=data)
