"""Each `speed` section: runs its measurement and lays it out as a section.

A section function takes the `speed_suite.SpeedOptions` and a context dict
shared across the run (the conv peak, the training rate) and returns a
`performance_report.section` dict. The training and input sections are in
`speed_training_sections`; the cell formatters here serve both modules.
"""

from typing import Dict, List, Optional

from benchmarks import conv_peak
from benchmarks import model_speed
from benchmarks import performance_report as report_lib
from benchmarks import speed
from benchmarks import timing

TITLES = {
    'conv_peak': 'Convolution peak',
    'backbone': 'S3D-G RGB backbone',
    'relation': 'Relation 1x1 stage (g_theta)',
    'model': 'Whole model, inference per clip',
    'training': 'Training',
    'input': 'Input pipeline',
}
RELATION_SPEEDUP_GOAL = 5.0
PEAK_KEY = 'peak_gflops_per_second'
PEAK_SHAPE_KEY = 'peak_shape'
# Quick runs time the paper-size models on this smaller clip (stated).
QUICK_PAPER_CLIP = (8, 160, 200)


def ms(seconds: Optional[float]) -> str:
  return '-' if seconds is None else f'{seconds * 1e3:.1f}'


def num(value: Optional[float], digits: int = 1) -> str:
  return '-' if value is None else f'{value:.{digits}f}'


def spread(stats: Optional[timing.TimingStats]) -> str:
  if stats is None:
    return '-'
  return f'{stats.relative_spread * 100:.0f}%'


def mode_data(mode: speed.TimedMode) -> Dict:
  stats = mode.stats
  return {
      'name': mode.name, 'use_xla': mode.use_xla, 'error': mode.error,
      'median_seconds': None if stats is None else stats.median_seconds,
      'iqr_seconds': None if stats is None else stats.iqr_seconds,
      'min_seconds': None if stats is None else stats.min_seconds,
      'max_seconds': None if stats is None else stats.max_seconds,
      'num_repeats': None if stats is None else stats.num_repeats,
      'warmup_seconds': None if stats is None else stats.warmup_seconds,
  }


def _timing_note(options) -> str:
  return (f'Times are medians of {options.repeats()} timed calls after '
          f'{options.num_warmup} warm-up call(s) (paper-size models: '
          f'{options.repeats(heavy=True)}); spread is the interquartile '
          'range over the median.')


def conv_peak_section(options, context: Dict) -> Dict:
  """GFLOP/s of large convolutions; stores the peak in `context`."""
  shapes = conv_peak.default_shapes(options.quick, options.conv_channels)
  result = conv_peak.measure_conv_peak(shapes, options.xla_modes,
                                       options.repeats(), options.num_warmup)
  context[PEAK_KEY] = result.peak_gflops_per_second
  context[PEAK_SHAPE_KEY] = (result.best.shape, result.best.use_xla)
  rows = []
  for m in result.measurements:
    rows.append([m.shape.name, speed.xla_label(m.use_xla), num(m.gflop, 2),
                 ms(m.stats.median_seconds), spread(m.stats),
                 num(m.gflops_per_second)])
  best = result.best
  notes = [
      f'Peak: {best.gflops_per_second:.1f} GFLOP/s ({best.shape.name}, '
      f'{speed.xla_label(best.use_xla)}), the reference of every "fraction '
      'of peak" below. FLOPs = 2 x multiply-adds, SAME padding counted in '
      'full.',
      _timing_note(options),
  ]
  data = {
      PEAK_KEY: result.peak_gflops_per_second,
      'peak_name': best.shape.name, 'peak_use_xla': best.use_xla,
      'measurements': [dict(name=m.shape.name, use_xla=m.use_xla,
                            input_shape=list(m.shape.input_shape),
                            kernel_shape=list(m.shape.kernel_shape),
                            gflop=m.gflop,
                            gflops_per_second=m.gflops_per_second,
                            **{k: v for k, v in mode_data(speed.TimedMode(
                                m.shape.name, m.use_xla, m.stats)).items()
                               if k not in ('name', 'use_xla')})
                       for m in result.measurements],
  }
  chart = report_lib.bar_chart(
      'Convolution throughput', 'GFLOP/s',
      [f'{m.shape.name} ({speed.xla_label(m.use_xla)})'
       for m in result.measurements],
      [m.gflops_per_second for m in result.measurements])
  return report_lib.section(
      TITLES['conv_peak'], notes=notes,
      columns=['convolution', 'mode', 'GFLOP', 'median ms', 'spread',
               'GFLOP/s'], rows=rows, chart=chart, data=data)


def backbone_section(options, context: Dict) -> Dict:
  """S3D-G forward time, GFLOPs and fraction of the run's peak."""
  frames, height, width = options.backbone_clip
  result = speed.measure_backbone(
      frames, height, width, options.backbone_depth_multiplier,
      options.backbone_preset, 'Mixed_5c', options.xla_modes,
      options.repeats(), options.num_warmup)
  peak = context.get(PEAK_KEY)
  peak_after = None
  if peak and PEAK_SHAPE_KEY in context:
    # The CPU may be shared: the best convolution again, right after the
    # backbone, and the higher of the two is the reference.
    shape, use_xla = context[PEAK_SHAPE_KEY]
    peak_after = conv_peak.measure_conv(shape, use_xla, options.repeats(),
                                        options.num_warmup).gflops_per_second
    peak = max(peak, peak_after)
  rows = []
  modes = []
  for mode in result.modes:
    rate = result.gflops_per_second(mode)
    fraction = rate / peak if (rate is not None and peak) else None
    rows.append([mode.name, ms(mode.median_seconds), spread(mode.stats),
                 num(result.gflop, 2), num(rate),
                 '-' if fraction is None else f'{fraction * 100:.0f}%',
                 mode.error or ''])
    modes.append(dict(mode_data(mode), gflops_per_second=rate,
                      fraction_of_peak=fraction))
  difference = (result.profiler_gflop - result.gflop) / result.gflop
  notes = [
      f'S3D-G ({result.preset} preset, depth multiplier '
      f'{result.depth_multiplier:g}) on one {frames}x{height}x{width} RGB '
      f'clip up to {result.final_endpoint}, inference (batch norm with '
      'moving statistics), random weights.',
      f'GFLOPs counted by hand from the layer shapes (every convolution and '
      f'gate; pooling, batch norm and ReLU not counted): {result.gflop:.2f}. '
      f'TensorFlow profiler float-ops of the same convolutions in the traced '
      f'graph: {result.profiler_gflop:.2f} ({difference * 100:+.2f}%).',
      ('Fraction of peak: GFLOP/s over this run\'s convolution peak, the '
       'best convolution timed before and again right after the backbone '
       f'({context[PEAK_KEY]:.1f} and {peak_after:.1f} GFLOP/s; the higher, '
       f'{peak:.1f}, is used).' if peak_after else
       'Fraction of peak: GFLOP/s over this run\'s convolution peak '
       f'({peak:.1f} GFLOP/s).' if peak else
       'Fraction of peak: not computed (the conv_peak section was not run).'),
  ]
  data = {
      'preset': result.preset,
      'depth_multiplier': result.depth_multiplier,
      'input_shape': list(result.input_shape),
      'final_endpoint': result.final_endpoint,
      'gflop': result.gflop,
      'gflop_method': 'hand count from layer shapes (flops.s3dg_flops)',
      'profiler_gflop': result.profiler_gflop,
      'gflop_by_endpoint': {k: v / 1e9
                            for k, v in result.flops_by_endpoint.items()},
      'modes': modes,
      'peak_gflops_per_second': peak,
      'peak_after_gflops_per_second': peak_after,
  }
  chart = report_lib.bar_chart(
      'S3D-G forward pass against the convolution peak', 'GFLOP/s',
      [f'S3D-G ({m.name})' for m in result.modes] +
      (['conv peak (this run)']
       if peak else []),
      [result.gflops_per_second(m) for m in result.modes] +
      ([peak] if peak else []))
  return report_lib.section(
      TITLES['backbone'], notes=notes,
      columns=['mode', 'median ms', 'spread', 'GFLOP', 'GFLOP/s',
               'of peak', 'error'],
      rows=rows, chart=chart, data=data)


def relation_section(options, context: Dict) -> Dict:
  """g_theta decomposed against naive: times and the speed-up."""
  del context
  result = speed.measure_relation(
      options.relation_num_actors, tuple(options.relation_map_size),
      options.relation_channels, options.xla_modes, options.repeats(),
      options.num_warmup)
  speedups = result.speedups()
  rows = []
  for mode in result.modes:
    gflop = (result.decomposed_flops if mode.name.startswith('decomposed')
             else result.naive_flops) / 1e9
    rows.append([mode.name, ms(mode.median_seconds), spread(mode.stats),
                 num(gflop, 2), mode.error or ''])
  height, width = result.map_size
  notes = [
      f'PairwiseRelationConv on {result.num_actors} actors over a '
      f'{height}x{width}x{result.scene_channels} scene map F, actor '
      f'features of {result.actor_channels} channels, '
      f'{result.relation_channels} output channels, batch 1: decomposed '
      '(scene part once per image, actor part once per actor) against naive '
      '(1x1 convolution over the actor-tiled concatenation), same weights.',
  ]
  for label, ratio in speedups.items():
    verdict = ('meets' if ratio is not None and
               ratio >= RELATION_SPEEDUP_GOAL else 'misses')
    notes.append(f'Speed-up ({label}): {num(ratio, 2)}x, {verdict} the goal '
                 f'of {RELATION_SPEEDUP_GOAL:g}x.')
  data = {
      'num_actors': result.num_actors, 'map_size': list(result.map_size),
      'actor_channels': result.actor_channels,
      'scene_channels': result.scene_channels,
      'relation_channels': result.relation_channels,
      'decomposed_gflop': result.decomposed_flops / 1e9,
      'naive_gflop': result.naive_flops / 1e9,
      'modes': [mode_data(m) for m in result.modes],
      'speedup': speedups, 'speedup_goal': RELATION_SPEEDUP_GOAL,
  }
  chart = report_lib.bar_chart(
      f'g_theta at {result.num_actors} actors: decomposed vs naive',
      'median ms', [m.name for m in result.modes],
      [None if m.median_seconds is None else m.median_seconds * 1e3
       for m in result.modes])
  return report_lib.section(
      TITLES['relation'], notes=notes,
      columns=['variant', 'median ms', 'spread', 'GFLOP', 'error'],
      rows=rows, chart=chart, data=data)


def _model_specs(options) -> List[model_speed.ModelSpec]:
  paper_clip = options.paper_clip
  if paper_clip is None and options.quick:
    paper_clip = QUICK_PAPER_CLIP
  return model_speed.default_specs(
      options.tiny_base_config, options.tiny_acrn_config,
      options.paper_config or None, options.paper_num_actors, paper_clip)


def model_section(options, context: Dict) -> Dict:
  """Inference per clip of Base-Model and ACRN; ACRN / Base-Model ratios."""
  del context
  results = []
  for spec in _model_specs(options):
    heavy = 'paper' in spec.name
    results.append(model_speed.measure_model_inference(
        spec, options.xla_modes, options.repeats(heavy=heavy),
        options.num_warmup))
  rows = []
  models = []
  for r in results:
    clip = 'x'.join(str(d) for d in r.clip_shape)
    for mode in r.modes:
      rows.append([r.spec.name, mode.name, r.model_class,
                   clip + (' + flow' if r.use_flow else '')
                   + (' (reduced)' if r.reduced_input else ''),
                   str(r.num_actors), ms(mode.median_seconds),
                   spread(mode.stats), mode.error or ''])
    models.append({
        'name': r.spec.name, 'config_path': r.spec.config_path,
        'overrides': list(r.spec.overrides), 'base_model': r.spec.base_model,
        'model_class': r.model_class, 'clip_shape': list(r.clip_shape),
        'use_flow': r.use_flow, 'reduced_input': r.reduced_input,
        'num_actors': r.num_actors, 'profiler_gflop': r.profiler_gflop,
        'modes': [mode_data(m) for m in r.modes],
    })
  ratios = _acrn_ratios(results)
  notes = [
      'Timed: preprocess -> predict(training=False) -> postprocess of one '
      'clip (batch 1, random uint8 frames, random flow for two-stream '
      'configs, random weights) in one tf.function. Every RPN proposal '
      '(the configured num_proposals_eval; the paper-size pair is set to '
      f'{options.paper_num_actors}) goes through the action head and, for '
      'ACRN, the relation module.',
      'The paper-size Base-Model is the paper config without its relation '
      'module.',
  ]
  if any(r.reduced_input for r in results):
    notes.append('Reduced input: the paper-size models ran on a smaller '
                 'clip than their config\'s (see the clip column).')
  for name, by_mode in ratios.items():
    for label, ratio in by_mode.items():
      notes.append(f'ACRN / Base-Model time, {name} ({label}): '
                   f'{num(ratio, 2)}')
  xla_speedups = _xla_speedups(results)
  for name, speedup in xla_speedups.items():
    notes.append(f'No-XLA / XLA time (the speed-up of XLA), {name}: '
                 f'{num(speedup, 2)}x')
  chart = report_lib.bar_chart(
      'Inference per clip', 'median ms',
      [f'{r.spec.name} ({m.name})' for r in results for m in r.modes],
      [None if m.median_seconds is None else m.median_seconds * 1e3
       for r in results for m in r.modes])
  return report_lib.section(
      TITLES['model'], notes=notes,
      columns=['model', 'mode', 'class', 'clip', 'actors', 'median ms',
               'spread', 'error'],
      rows=rows, chart=chart,
      data={'models': models, 'acrn_ratios': ratios,
            'xla_speedups': xla_speedups})


def _xla_speedups(results) -> Dict[str, float]:
  """Model name -> median time without XLA / with, where both ran."""
  speedups = {}
  for r in results:
    by_xla = {m.use_xla: m.median_seconds for m in r.modes}
    if by_xla.get(False) and by_xla.get(True):
      speedups[r.spec.name] = by_xla[False] / by_xla[True]
  return speedups


def _acrn_ratios(results) -> Dict[str, Dict[str, Optional[float]]]:
  """'tiny'/'paper' -> XLA label -> ACRN median / Base-Model median."""
  by_name = {r.spec.name: r for r in results}
  ratios = {}
  for size in ('tiny', 'paper'):
    base = by_name.get(f'Base-Model {size}')
    acrn = by_name.get(f'ACRN {size}')
    if base is None or acrn is None:
      continue
    base_modes = {m.name: m for m in base.modes}
    ratios[size] = {}
    for mode in acrn.modes:
      other = base_modes.get(mode.name)
      if other and other.median_seconds and mode.median_seconds:
        ratios[size][mode.name] = mode.median_seconds / other.median_seconds
      else:
        ratios[size][mode.name] = None
  return ratios
