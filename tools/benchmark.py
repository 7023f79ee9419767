r"""The project's benchmarks; the first argument names the subcommand.

  # The paper's ablations on the synthetic dataset (docs/results/results.md
  # states how long its run took; --quick: one seed, a smaller dataset,
  # fewer steps):
  python tools/benchmark.py accuracy --work_dir workspace/benchmark \
      --output_dir docs/results

  # Every speed measurement in one run, with a report:
  python tools/benchmark.py speed --output_dir /tmp/perf

  # A few sections, quickly, XLA off:
  python tools/benchmark.py speed --quick --sections=conv_peak,relation \
      --use_xla=off

`speed` measures, in one process: the convolution peak of this machine, the
S3D-G backbone (time, GFLOPs, fraction of the peak), g_theta once per image
against per actor, whole-model inference (Base-Model against ACRN, tiny and
paper size, XLA off and on), training steps/s with peak memory (XLA off and
on, float32 and bfloat16) and the input pipeline's rate against what
training consumes. It prints a table; with --output_dir it
writes performance.json, performance.md and PNG bar charts there.

`accuracy` trains Base-Model, Resize+Concat, Santoro and ACRN with one
budget for several seeds (table 1a) and Base-Model and ACRN at several clip
lengths (table 1b) on a synthetic preset (--preset, default `stage`), and
ACRN on several scene maps with --scene_maps (table 1c), evaluates each on
the test split (frame-AP, per-class AP, the relation mAP), measures how
often ACRN's heat-map maximum lies in the partner's box, and writes
results.md, results.json and PNG plots to --output_dir. Everything it
trains stays in --work_dir; run again, it skips the runs already done.
"""

import dataclasses
import os
import shlex
import sys
import time

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.builders import config_util  # pylint: disable=g-import-not-at-top
from benchmarks import accuracy
from benchmarks import accuracy_budget
from benchmarks import accuracy_heatmaps
from benchmarks import accuracy_report
from benchmarks import accuracy_runs
from benchmarks import heatmap_localisation
from benchmarks import machine as machine_lib
from benchmarks import performance_report
from benchmarks import run_pool
from benchmarks import speed_suite

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# --scene_maps=table_1c: the paper's grid, accuracy_budget.TABLE_1C.
TABLE_1C_NAME = 'table_1c'

_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', None, 'speed: write performance.json, performance.md and '
    'PNG charts here. accuracy: results.md, results.json and PNG plots.')
_QUICK = flags.DEFINE_bool(
    'quick', False, 'speed: fewer repetitions; the paper-size models run on '
    'a smaller clip (the report says so). accuracy: one seed, a smaller '
    'dataset, fewer steps.')
_WORK_DIR = flags.DEFINE_string(
    'work_dir', 'workspace/benchmark', 'accuracy: data, records and every '
    'run\'s checkpoints (kept; finished runs are not run again).')
_ACCURACY_CONFIG = flags.DEFINE_string(
    'accuracy_config', 'configs/synthetic/acrn_stage.config', 'accuracy: '
    'the pipeline.config every run starts from (its relation module, seeds, '
    'steps, clip length and paths are replaced per run).')
_PRESET = flags.DEFINE_string(
    'preset', None, 'accuracy: the synthetic dataset preset (default: the '
    f'budget\'s, {accuracy_budget.FULL.preset}; with another preset give a '
    '--accuracy_config of its frame size and a fresh --work_dir).')
_ACCURACY_STEPS = flags.DEFINE_integer(
    'accuracy_steps', None, 'accuracy: training steps per run (default: the '
    f'budget\'s, {accuracy_budget.FULL.num_steps} or '
    f'{accuracy_budget.QUICK.num_steps} with --quick).')
_ACCURACY_LEARNING_RATE = flags.DEFINE_float(
    'accuracy_learning_rate', None, 'accuracy: the runs\' learning rate: '
    'their constant rate when the budget trains at one (the full budget, '
    f'{accuracy_budget.FULL.constant_learning_rate}), else the peak of '
    'every run\'s cosine schedule (default: the budget\'s, else the '
    'config\'s).')
_ACCURACY_PRETRAIN_STEPS = flags.DEFINE_integer(
    'accuracy_pretrain_steps', None, 'accuracy: steps of the Base-Model '
    'whose S3D-G, actor detector and actor head every run starts from '
    '(frozen, with the full budget; 0: every run trains everything from '
    'scratch; default: the budget\'s, '
    f'{accuracy_budget.FULL.pretrain_steps} or '
    f'{accuracy_budget.QUICK.pretrain_steps} with --quick).')
_ACCURACY_JOBS = flags.DEFINE_integer(
    'accuracy_jobs', min(2, len(run_pool.schedulable_cores())),
    'accuracy: runs trained side by side, each in its own process pinned to '
    'a share of the cores (default 2, or 1 on a 1-core machine; 1 trains in '
    'this process). On 2 cores, 2 do two runs in about two thirds of the '
    'time of 1.')
_ACCURACY_SEEDS = flags.DEFINE_list(
    'accuracy_seeds', None, 'accuracy: seeds of table 1a (default 0,1,2; 0 '
    'with --quick).')
_CLIP_LENGTHS = flags.DEFINE_list(
    'clip_lengths', None, 'accuracy: clip lengths of table 1b (default '
    '2,4,8; 2,8 with --quick).')
_SCENE_MAPS = flags.DEFINE_list(
    'scene_maps', None, 'accuracy: table 1c, the scene maps ACRN is trained '
    'on, each endpoint@scale, several joined by +, or '
    f'{TABLE_1C_NAME} for the paper\'s grid '
    f'({",".join(accuracy_budget.TABLE_1C)}). Default: none, no table 1c.')
_SECTIONS = flags.DEFINE_list(
    'sections', list(speed_suite.SECTIONS),
    f'Sections to run, from {",".join(speed_suite.SECTIONS)}.')
_USE_XLA = flags.DEFINE_enum(
    'use_xla', 'both', ['both', 'on', 'off'],
    'Time with XLA (tf.function(jit_compile=True)), without, or both.')
_NUM_REPEATS = flags.DEFINE_integer(
    'num_repeats', None, 'Timed calls per measurement (default: 3 with '
    '--quick and for paper-size models, else 10).')
_NUM_WARMUP = flags.DEFINE_integer('num_warmup', 1,
                                   'Untimed calls before timing.')
_CONV_CHANNELS = flags.DEFINE_integer(
    'conv_channels', None, 'Channels of the peak convolutions (default 256).')
_BACKBONE_CLIP = flags.DEFINE_string(
    'backbone_clip', '16x224x224', 'S3D-G clip: FRAMESxHEIGHTxWIDTH.')
_BACKBONE_DEPTH_MULTIPLIER = flags.DEFINE_float(
    'backbone_depth_multiplier', 1.0, 'S3D-G channel multiplier.')
_RELATION_NUM_ACTORS = flags.DEFINE_integer(
    'relation_num_actors', 32, 'Actors in the g_theta comparison.')
_RELATION_MAP_SIZE = flags.DEFINE_string(
    'relation_map_size', '14x14', 'Size of F there: HEIGHTxWIDTH.')
_RELATION_CHANNELS = flags.DEFINE_string(
    'relation_channels', None, 'ACTOR,SCENE,OUTPUT channels of g_theta '
    '(default: the paper\'s 1024,832,832).')
_TINY_BASE_CONFIG = flags.DEFINE_string(
    'tiny_base_config', 'configs/synthetic/base_tiny.config',
    'Tiny Base-Model pipeline.config.')
_TINY_ACRN_CONFIG = flags.DEFINE_string(
    'tiny_acrn_config', 'configs/synthetic/acrn_tiny.config',
    'Tiny ACRN pipeline.config.')
_PAPER_CONFIG = flags.DEFINE_string(
    'paper_config', 'configs/ava/acrn_s3dg_v2.1.config',
    'Paper-size ACRN pipeline.config (empty: skip the paper-size models).')
_PAPER_NUM_ACTORS = flags.DEFINE_integer(
    'paper_num_actors', 10, 'Proposals per clip at paper size.')
_PAPER_CLIP = flags.DEFINE_string(
    'paper_clip', None, 'FRAMESxHEIGHTxWIDTH for the paper-size models '
    '(default: the config\'s clip; 8x160x200 with --quick).')
_TRAINING_CONFIG = flags.DEFINE_string(
    'training_config', 'configs/synthetic/acrn_tiny.config',
    'pipeline.config of the training and input sections.')
_TRAINING_STEPS = flags.DEFINE_integer('training_steps', 10,
                                       'Timed training steps.')
_INPUT_BATCHES = flags.DEFINE_integer('input_batches', 50,
                                      'Timed input pipeline batches.')


def parse_sizes(text: str, count: int, flag: str, separator: str = 'x'):
  """'16x224x224' -> (16, 224, 224); UsageError naming `flag` if bad."""
  try:
    values = tuple(int(v) for v in text.lower().split(separator))
  except ValueError:
    values = ()
  if len(values) != count or min(values) < 1:
    raise app.UsageError(f'--{flag}: expected {count} positive integers '
                         f'separated by {separator!r}, got {text!r}')
  return values


def _config_path(path: str) -> str:
  """`path` as given if it exists, else relative to the repository root."""
  if not path or os.path.isabs(path) or os.path.exists(path):
    return path
  candidate = os.path.join(_REPO_ROOT, path)
  return candidate if os.path.exists(candidate) else path


def speed_options_from_flags(command: str) -> speed_suite.SpeedOptions:
  """`SpeedOptions` from the parsed flags."""
  try:
    sections = speed_suite.check_sections(_SECTIONS.value)
  except ValueError as e:
    raise app.UsageError(f'--sections: {e}') from e
  xla_modes = {'both': (False, True), 'on': (True,),
               'off': (False,)}[_USE_XLA.value]
  if _NUM_REPEATS.value is not None and _NUM_REPEATS.value < 1:
    raise app.UsageError(f'--num_repeats must be >= 1, got '
                         f'{_NUM_REPEATS.value}')
  if _NUM_WARMUP.value < 0:
    raise app.UsageError(f'--num_warmup must be >= 0, got '
                         f'{_NUM_WARMUP.value}')
  for flag in (_RELATION_NUM_ACTORS, _PAPER_NUM_ACTORS, _TRAINING_STEPS,
               _INPUT_BATCHES):
    if flag.value < 1:
      raise app.UsageError(f'--{flag.name} must be >= 1, got {flag.value}')
  if _CONV_CHANNELS.value is not None and _CONV_CHANNELS.value < 1:
    raise app.UsageError(f'--conv_channels must be >= 1, got '
                         f'{_CONV_CHANNELS.value}')
  return speed_suite.SpeedOptions(
      sections=sections,
      xla_modes=xla_modes,
      quick=_QUICK.value,
      num_repeats=_NUM_REPEATS.value,
      num_warmup=_NUM_WARMUP.value,
      conv_channels=_CONV_CHANNELS.value,
      backbone_clip=parse_sizes(_BACKBONE_CLIP.value, 3, 'backbone_clip'),
      backbone_depth_multiplier=_BACKBONE_DEPTH_MULTIPLIER.value,
      relation_num_actors=_RELATION_NUM_ACTORS.value,
      relation_map_size=parse_sizes(_RELATION_MAP_SIZE.value, 2,
                                    'relation_map_size'),
      relation_channels=(parse_sizes(_RELATION_CHANNELS.value, 3,
                                     'relation_channels', ',')
                         if _RELATION_CHANNELS.value else None),
      tiny_base_config=_config_path(_TINY_BASE_CONFIG.value),
      tiny_acrn_config=_config_path(_TINY_ACRN_CONFIG.value),
      paper_config=_config_path(_PAPER_CONFIG.value),
      paper_num_actors=_PAPER_NUM_ACTORS.value,
      paper_clip=(parse_sizes(_PAPER_CLIP.value, 3, 'paper_clip')
                  if _PAPER_CLIP.value else None),
      training_config=_config_path(_TRAINING_CONFIG.value),
      training_steps=_TRAINING_STEPS.value,
      input_batches=_INPUT_BATCHES.value,
      command=command)


def run_speed(argv):
  """The `speed` subcommand: runs the suite, prints, writes; returns it."""
  if len(argv) > 2:
    raise app.UsageError(f'speed: unexpected arguments {argv[2:]}')
  command = shlex.join(['python', 'tools/benchmark.py'] + sys.argv[1:])
  options = speed_options_from_flags(command)
  report = speed_suite.run_speed_suite(
      options, progress=lambda name: print(f'[speed] {name} ...', flush=True))
  print(performance_report.format_console(report), end='')
  if _OUTPUT_DIR.value:
    paths = performance_report.write_report(_OUTPUT_DIR.value, report)
    print(f'Wrote {", ".join(sorted(paths.values()))}')
  return report


def _positive_ints(flag) -> tuple:
  try:
    values = tuple(int(v) for v in flag.value)
  except ValueError:
    values = ()
  if not values or min(values) < 0:
    raise app.UsageError(f'--{flag.name}: expected integers >= 0 separated '
                         f'by commas, got {",".join(flag.value)!r}')
  return values


def accuracy_budget_from_flags() -> accuracy_budget.Budget:
  """The budget: FULL or QUICK with the flags' replacements, validated."""
  budget = accuracy_budget.QUICK if _QUICK.value else accuracy_budget.FULL
  changes = {}
  if _ACCURACY_STEPS.value is not None:
    changes['num_steps'] = _ACCURACY_STEPS.value
    changes['warmup_steps'] = _ACCURACY_STEPS.value // 10
  if _ACCURACY_PRETRAIN_STEPS.value is not None:
    changes['pretrain_steps'] = _ACCURACY_PRETRAIN_STEPS.value
    if _ACCURACY_PRETRAIN_STEPS.value == 0:
      changes['freeze_pretrained'] = False  # nothing pretrained to freeze
  if _ACCURACY_LEARNING_RATE.value is not None:
    field = ('learning_rate' if budget.constant_learning_rate is None
             else 'constant_learning_rate')
    changes[field] = _ACCURACY_LEARNING_RATE.value
  if _ACCURACY_SEEDS.value is not None:
    changes['seeds'] = _positive_ints(_ACCURACY_SEEDS)
  if _CLIP_LENGTHS.value is not None:
    changes['clip_lengths'] = _positive_ints(_CLIP_LENGTHS)
  if _SCENE_MAPS.value is not None:
    changes['scene_maps'] = (accuracy_budget.TABLE_1C
                             if _SCENE_MAPS.value == [TABLE_1C_NAME]
                             else tuple(_SCENE_MAPS.value))
  if _PRESET.value is not None:
    changes['preset'] = _PRESET.value
  budget = dataclasses.replace(budget, **changes)
  try:
    return budget.validate()
  except ValueError as e:
    raise app.UsageError(str(e)) from e


def run_accuracy(argv):
  """The `accuracy` subcommand: trains, evaluates, writes the report."""
  if len(argv) > 2:
    raise app.UsageError(f'accuracy: unexpected arguments {argv[2:]}')
  if not _OUTPUT_DIR.value:
    raise app.UsageError('accuracy: give --output_dir for the report')
  command = shlex.join(['python', 'tools/benchmark.py'] + sys.argv[1:])
  budget = accuracy_budget_from_flags()
  try:
    run_pool.core_groups(run_pool.schedulable_cores(), _ACCURACY_JOBS.value)
  except ValueError as e:
    raise app.UsageError(f'--accuracy_jobs: {e}') from e
  config_path = _config_path(_ACCURACY_CONFIG.value)
  try:
    accuracy.check_frame_shape(config_util.read_pipeline_config(config_path),
                               accuracy.dataset_config(budget), config_path)
  except ValueError as e:
    raise app.UsageError(f'--accuracy_config: {e}') from e
  started = time.time()

  def progress(line):
    # Recorded as it goes: a killed invocation (SIGKILL, a lost machine)
    # keeps its minutes up to its last line.
    accuracy.record_invocation(_WORK_DIR.value, started, time.time(),
                               completed=False)
    print(f'[accuracy] {line}', flush=True)

  try:
    # `kill PID` stops it as Ctrl-C does: runs stopped, invocation recorded.
    with run_pool.exit_on_sigterm():
      results = accuracy.run_benchmark(
          config_path, _WORK_DIR.value, budget, progress=progress,
          jobs=_ACCURACY_JOBS.value)
  except accuracy_runs.StaleRunError as e:
    # Not a usage error: the flags are right, the directory is not; so the
    # message alone, without the flags' help.
    raise SystemExit(f'--work_dir: {e}') from e
  except BaseException:
    # Interrupted or failed: its time counts when a later one completes.
    accuracy.record_invocation(_WORK_DIR.value, started, time.time(),
                               completed=False)
    print(f'[accuracy] stopped after {(time.time() - started) / 60:.1f} '
          'minutes; the same command continues where it stopped',
          flush=True)
    raise
  heatmaps = None
  acrn_runs = [r for r in results if r['model'] == 'acrn'
               and r['frames_per_clip'] == budget.frames_per_clip
               and not r.get('scene_maps')]
  if acrn_runs:
    run_dir = os.path.join(_WORK_DIR.value, 'runs', acrn_runs[0]['name'])
    videos_dir = os.path.join(_WORK_DIR.value, 'data', 'videos')
    videos = sorted(os.path.join(videos_dir, name)
                    for name in os.listdir(videos_dir)
                    if name.startswith('test_'))[:6]
    os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
    heatmaps = accuracy_heatmaps.write_heatmaps_png(
        os.path.join(run_dir, 'pipeline.config'), run_dir, videos,
        keyframe_second=3.0,
        output_path=os.path.join(_OUTPUT_DIR.value,
                                 'accuracy_' + accuracy_report.HEATMAPS_PNG))
  localisation = heatmap_localisation.localise_runs(
      _WORK_DIR.value, results, accuracy.dataset_config(budget),
      budget.frames_per_clip,
      progress=lambda line: print(f'[accuracy] {line}', flush=True))
  invocations = accuracy.record_invocation(_WORK_DIR.value, started,
                                          time.time(), completed=True)
  elapsed = sum(invocation['minutes'] for invocation in invocations)
  machine = machine_lib.describe_machine().summary()
  if _ACCURACY_JOBS.value > 1:
    machine += f'; {_ACCURACY_JOBS.value} runs side by side'
  pretrain_result = (accuracy_runs.load_result(os.path.join(
      _WORK_DIR.value, 'runs', accuracy.PRETRAIN))
                     if budget.pretrain_steps else None)
  paths = accuracy_report.write_report(
      _OUTPUT_DIR.value, results, budget, command, elapsed, machine,
      heatmaps_png=heatmaps, pretrain_result=pretrain_result,
      invocations=len(invocations), localisation=localisation,
      relation_settings=accuracy.relation_settings(
          config_util.read_pipeline_config(config_path)))
  with open(paths[accuracy_report.RESULTS_MD], encoding='utf-8') as f:
    print(f.read(), end='')
  print(f'Wrote {", ".join(sorted(paths.values()))}')
  return results


# Subcommand name -> function of argv (argv[1] is the subcommand).
SUBCOMMANDS = {
    'speed': run_speed,
    'accuracy': run_accuracy,
}


def run(argv):
  """Dispatches argv[1] to its subcommand; returns what that returns."""
  if len(argv) < 2:
    raise app.UsageError(f'give a subcommand: {", ".join(SUBCOMMANDS)}')
  command = SUBCOMMANDS.get(argv[1])
  if command is None:
    raise app.UsageError(f'unknown subcommand {argv[1]!r}; expected one of '
                         f'{", ".join(SUBCOMMANDS)}')
  return command(argv)


def _main(argv):
  run(argv)


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
