"""The `speed` benchmark: every measurement in one run, as report sections.

`run_speed_suite(options)` measures the sections asked for, in this order,
and returns the report dict `performance_report` writes:

  conv_peak  GFLOP/s of large dense convolutions (the peak of this run);
  backbone   S3D-G RGB forward pass: time, GFLOPs, fraction of the peak;
  relation   g_theta once per image against per actor: the speed-up;
  model      whole-model inference per clip, Base-Model against ACRN;
  training   training steps/s and peak memory, XLA off and on, float32 and
             mixed_bfloat16 (needs acrn_tf.training);
  input      input pipeline examples/s against what training consumes.

A section whose dependency is missing says 'not available' and why; one
that fails says 'failed' with the error, and the others still run.
"""

import dataclasses
import datetime
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from absl import logging

from benchmarks import machine
from benchmarks import performance_report as report_lib
from benchmarks import speed
from benchmarks import speed_sections
from benchmarks import speed_training_sections

SECTIONS = ('conv_peak', 'backbone', 'relation', 'model', 'training',
            'input')


@dataclasses.dataclass
class SpeedOptions:
  """Settings of one `speed` run.

  Attributes:
    sections: which of `SECTIONS` to run (in `SECTIONS` order).
    xla_modes: XLA settings each timing runs with (False, True or both).
    quick: fewer repetitions and (stated in the report) smaller paper-size
      inputs.
    num_repeats: timed calls per measurement (None: 3 quick, else 10 for
      small work, 3 for the paper-size models).
    num_warmup: untimed calls first (tracing, compilation).
    conv_channels: channels of the peak convolutions (None: 256).
    backbone_clip: (frames, height, width) of the S3D-G clip.
    backbone_depth_multiplier: S3D-G channel multiplier.
    backbone_preset: `s3dg.S3DG_PRESETS` key.
    relation_num_actors: actors for the g_theta comparison.
    relation_map_size: (height, width) of F for it.
    relation_channels: (d_a, c of F, g_theta outputs); None: the paper's.
    tiny_base_config, tiny_acrn_config: the tiny pipeline.configs.
    paper_config: the paper-size pipeline.config ('' to skip it).
    paper_num_actors: proposals per clip at paper size.
    paper_clip: (frames, height, width) instead of the paper config's clip
      (None: the config's; quick runs reduce it and say so).
    training_config: pipeline.config of the training and input sections.
    training_steps: timed training steps.
    input_batches: timed input batches.
    command: the command line, for the report.
  """
  sections: Sequence[str] = SECTIONS
  xla_modes: Sequence[bool] = (False, True)
  quick: bool = False
  num_repeats: Optional[int] = None
  num_warmup: int = 1
  conv_channels: Optional[int] = None
  backbone_clip: Tuple[int, int, int] = (16, 224, 224)
  backbone_depth_multiplier: float = 1.0
  backbone_preset: str = 'top_heavy'
  relation_num_actors: int = 32
  relation_map_size: Tuple[int, int] = (14, 14)
  relation_channels: Optional[Tuple[int, int, int]] = None
  tiny_base_config: str = 'configs/synthetic/base_tiny.config'
  tiny_acrn_config: str = 'configs/synthetic/acrn_tiny.config'
  paper_config: str = 'configs/ava/acrn_s3dg_v2.1.config'
  paper_num_actors: int = 10
  paper_clip: Optional[Tuple[int, int, int]] = None
  training_config: str = 'configs/synthetic/acrn_tiny.config'
  training_steps: int = 10
  input_batches: int = 50
  command: str = ''

  def repeats(self, heavy: bool = False) -> int:
    """Timed calls: the flag, else 3 when quick or heavy, else 10."""
    if self.num_repeats is not None:
      return self.num_repeats
    return 3 if (self.quick or heavy) else 10


def check_sections(names: Sequence[str]) -> List[str]:
  """Known section names in run order; ValueError naming an unknown one."""
  unknown = [n for n in names if n not in SECTIONS]
  if unknown:
    raise ValueError(f'unknown section(s) {", ".join(unknown)}; expected '
                     f'some of {", ".join(SECTIONS)}')
  return [n for n in SECTIONS if n in names]


def run_speed_suite(options: SpeedOptions,
                    progress: Optional[Callable[[str], None]] = None
                    ) -> Dict:
  """Runs the selected sections; returns the report dict.

  Args:
    options: the run's settings.
    progress: called with each section's name before it runs (the CLI
      prints it); default: log it.

  Returns:
    The report dict (see `performance_report`).

  Raises:
    ValueError: an unknown section name or no XLA mode.
  """
  names = check_sections(options.sections)
  if not options.xla_modes:
    raise ValueError('xla_modes: need at least one of False, True')
  progress = progress or (lambda name: logging.info('benchmark: %s', name))
  started = time.time()
  report = {
      'command': options.command,
      'date': datetime.datetime.now().astimezone().isoformat(
          timespec='seconds'),
      'wall_seconds': None,
      'machine': dataclasses.asdict(machine.describe_machine()),
      'options': _options_dict(options),
      'sections': {},
  }
  context = {}
  runners = {
      'conv_peak': speed_sections.conv_peak_section,
      'backbone': speed_sections.backbone_section,
      'relation': speed_sections.relation_section,
      'model': speed_sections.model_section,
      'training': speed_training_sections.training_section,
      'input': speed_training_sections.input_section,
  }
  for name in names:
    progress(name)
    section_start = time.time()
    try:
      entry = runners[name](options, context)
    except Exception as e:  # pylint: disable=broad-except
      # One failing section must not lose the others' measurements.
      logging.exception('benchmark section %s failed', name)
      entry = report_lib.section(
          speed_sections.TITLES[name], report_lib.STATUS_FAILED,
          reason=f'{type(e).__name__}: {e}')
    entry['data']['section_seconds'] = time.time() - section_start
    report['sections'][name] = entry
  report['wall_seconds'] = time.time() - started
  report['load_average_end'] = machine.describe_machine().load_average
  return report


def _options_dict(options: SpeedOptions) -> Dict:
  values = dataclasses.asdict(options)
  values.pop('command', None)
  values['sections'] = list(options.sections)
  values['xla_modes'] = [speed.xla_label(m) for m in options.xla_modes]
  values['num_repeats'] = (options.num_repeats if options.num_repeats
                           is not None else 'default (3 quick or paper-size, '
                           'else 10)')
  return values

