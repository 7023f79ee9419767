r"""The project's benchmarks; the first argument names the subcommand.

  # Every speed measurement in one run, with a report:
  python tools/benchmark.py speed --output_dir /tmp/perf

  # A few sections, quickly, XLA off:
  python tools/benchmark.py speed --quick --sections=conv_peak,relation \
      --use_xla=off

`speed` measures, in one process: the convolution peak of this machine, the
S3D-G backbone (time, GFLOPs, fraction of the peak), g_theta once per image
against per actor, whole-model inference (Base-Model against ACRN, tiny and
paper size), training steps/s with peak memory and the input pipeline's rate
against what training consumes. It prints a table; with --output_dir it
writes performance.json, performance.md and PNG bar charts there.
"""

import os
import shlex
import sys

try:
  import acrn_tf  # pylint: disable=unused-import
except ImportError:
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.benchmarks import performance_report  # pylint: disable=g-import-not-at-top
from acrn_tf.benchmarks import speed_suite

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', None, 'Write performance.json, performance.md and PNG '
    'charts here.')
_QUICK = flags.DEFINE_bool(
    'quick', False, 'Fewer repetitions; the paper-size models run on a '
    'smaller clip (the report says so).')
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


# Subcommand name -> function of argv (argv[1] is the subcommand).
SUBCOMMANDS = {
    'speed': run_speed,
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
