"""The accuracy benchmark's budget: what every run gets, and which runs.

`FULL` is `make benchmark`'s, `QUICK` `make benchmark-quick`'s;
`tools/benchmark.py accuracy` replaces their fields from its flags.
"""

import dataclasses
from typing import Dict, Optional, Sequence

from acrn_tf.data.synthetic import synthetic
from benchmarks import scene_map_specs


@dataclasses.dataclass(frozen=True)
class Budget:
  """What every run gets, and which runs there are.

  Attributes:
    name: 'full' or 'quick' (or a caller's), written to the results.
    preset: the synthetic dataset's preset (`synthetic_config.PRESETS`).
    seeds: table 1a trains every model once per seed.
    frames_per_clip: table 1a's clip length.
    clip_lengths: table 1b's clip lengths (Base-Model and ACRN, first seed).
    num_steps: training steps of every run (batch and schedule are the
      config's; the cosine decay is stretched to num_steps).
    warmup_steps: linear warm-up steps.
    learning_rate: the cosine schedule's peak (learning_rate_base); None
      keeps the config's.
    num_eval_examples: test keyframes evaluated (0: all).
    pretrain_steps: when > 0, a Base-Model (first seed, frames_per_clip) is
      trained this many steps first, with a tenth of them warm-up, and every
      run starts from its shared parts (S3D-G, actor detector, actor head;
      fine_tune_checkpoint_type SHARED_PARTS), as the paper starts every
      model from one pretrained S3D-G and person detector. 0: every run
      starts from scratch.
    freeze_pretrained: with pretrain_steps, the runs do not train what
      they restore from the pretraining run (train_config.frozen_part:
      feature extractor, actor detector, actor head, their batch norm in
      inference mode): only the relation module, the classifier and the box
      regressor train, every model on the same features and proposals.
    constant_learning_rate: the runs (not the pretraining run) train at
      this constant rate with the config's optimizer instead of its cosine
      schedule (warmup_steps then concerns the pretraining run only); None
      keeps the schedule.
    foreground_fraction: the runs' action_head.foreground_fraction (the
      share of actor ROIs among the ROIs sampled per clip); None keeps the
      config's.
    dataset_overrides: SyntheticConfig fields replacing the preset's (e.g.
      fewer videos for a quick run).
    scene_maps: table 1c: ACRN (first seed, frames_per_clip) is trained once
      per spec (see `scene_map_specs`); the spec of the base config's own
      scene maps is its table 1a run. Empty (FULL's and QUICK's): no table
      1c; `TABLE_1C` is the paper's grid.
  """
  name: str
  seeds: Sequence[int]
  frames_per_clip: int
  clip_lengths: Sequence[int]
  num_steps: int
  warmup_steps: int
  learning_rate: Optional[float] = None
  num_eval_examples: int = 0
  pretrain_steps: int = 0
  freeze_pretrained: bool = False
  constant_learning_rate: Optional[float] = None
  foreground_fraction: Optional[float] = None
  dataset_overrides: Dict = dataclasses.field(default_factory=dict)
  scene_maps: Sequence[str] = ()
  preset: str = 'stage'

  def validate(self) -> 'Budget':
    """Returns self; ValueError naming the field if a value is impossible."""
    if not self.seeds:
      raise ValueError('budget.seeds: give at least one seed')
    if len(set(self.seeds)) != len(self.seeds):
      raise ValueError(f'budget.seeds: repeated seeds in {list(self.seeds)}')
    if self.frames_per_clip < 1 or min(self.clip_lengths, default=1) < 1:
      raise ValueError('budget: clip lengths must be >= 1, got '
                       f'{self.frames_per_clip} and {list(self.clip_lengths)}')
    if self.num_steps < 1:
      raise ValueError(f'budget.num_steps must be >= 1, got {self.num_steps}')
    if not 0 <= self.warmup_steps < self.num_steps:
      raise ValueError('budget.warmup_steps must be in [0, num_steps), got '
                       f'{self.warmup_steps}')
    if self.learning_rate is not None and not self.learning_rate > 0:
      raise ValueError('budget.learning_rate must be > 0, got '
                       f'{self.learning_rate}')
    if self.pretrain_steps < 0:
      raise ValueError('budget.pretrain_steps must be >= 0, got '
                       f'{self.pretrain_steps}')
    if self.freeze_pretrained and self.pretrain_steps < 1:
      raise ValueError('budget.freeze_pretrained needs a pretraining run '
                       '(pretrain_steps >= 1): with none there is nothing '
                       'trained to freeze')
    if self.constant_learning_rate is not None:
      if not self.constant_learning_rate > 0:
        raise ValueError('budget.constant_learning_rate must be > 0, got '
                         f'{self.constant_learning_rate}')
      if self.learning_rate is not None:
        raise ValueError('budget: set learning_rate (the cosine peak) or '
                         'constant_learning_rate (the runs\' constant '
                         'rate), not both')
    if self.foreground_fraction is not None and not (
        0 < self.foreground_fraction <= 1):
      raise ValueError('budget.foreground_fraction must be in (0, 1], got '
                       f'{self.foreground_fraction}')
    if self.num_eval_examples < 0:
      raise ValueError('budget.num_eval_examples must be >= 0, got '
                       f'{self.num_eval_examples}')
    for spec in self.scene_maps:
      try:
        scene_map_specs.parse(spec)
      except ValueError as e:
        raise ValueError(f'budget.scene_maps: {e}') from None
    if len(set(self.scene_maps)) != len(self.scene_maps):
      raise ValueError('budget.scene_maps: repeated specs in '
                       f'{list(self.scene_maps)}')
    if self.preset not in synthetic.PRESETS:
      raise ValueError(f'budget.preset: unknown synthetic preset '
                       f'{self.preset!r}; expected one of '
                       f'{sorted(synthetic.PRESETS)}')
    return self

  @property
  def max_frames(self) -> int:
    """The longest clip any run reads (the records store this many)."""
    return max([self.frames_per_clip] + list(self.clip_lengths))


# Table 1c's grid (only with --scene_maps, not in FULL): the paper's
# Conv2c, Mixed_3c and Mixed_4f at scales 0.5 and 1, and the three together
# at 0.5 (Mixed_4f at 1, the config's, is table 1a's run). On 96x128 frames
# a relation head over a 32 x 32 map (Conv2c at scale 1) trained at 0.5
# steps/s, a 20-minute run, so the three together at scale 1 (as large,
# more channels) and Conv1a (64 x 64) are left out.
TABLE_1C = ('Conv2d_2c_3x3@0.5', 'Mixed_3c@0.5', 'Mixed_4f@0.5',
            'Conv2d_2c_3x3@0.5+Mixed_3c@0.5+Mixed_4f@0.5',
            'Conv2d_2c_3x3@1', 'Mixed_3c@1', 'Mixed_4f@1')
# Tables 1a and 1b on the stage preset (96x960 frames): a 2000-step
# pretraining run alone (S3D-G, actor detector and actor head from scratch,
# the config's cosine schedule), then 16 runs of 3000 steps (5 Base-Model,
# 11 with a relation module) two side by side, each training only its
# relation module, classifier and box regressor on the frozen pretraining
# run at a constant learning rate of 0.02 with actor ROIs only
# (foreground_fraction 1.0), every run in mixed_bfloat16 (see _config).
# Measured by hand on this machine (2026-12-06) for ACRN at scene scale
# 0.25, 2000 steps from the pretraining run, scored by model_main: frozen,
# constant rate, foreground fraction 1.0: frame-AP 87.5 (look_at 71.4);
# the same with foreground fraction 0.5: 84.2 (look_at 51.4); frozen with
# the cosine schedule and 0.5, and everything trained: the relation classes
# at chance. A frozen ACRN step runs at 6.5 steps/s alone (mixed_bfloat16),
# 3.9x the 1.67 of a full one. The estimate takes the Base-Model at 10
# steps/s, 0.64 of the rate per run side by side (run_pool's docstring),
# 20 minutes of pretraining (at 1.67 steps/s), 1.5 minutes of evaluation
# per run and 5 of data and heat-map localisation: about 130 minutes
# (README, "Accuracy": about 112 minutes from the runs' own times).
FULL = Budget(name='full', seeds=(0, 1, 2), frames_per_clip=8,
              clip_lengths=(2, 4, 8), num_steps=3000, warmup_steps=0,
              pretrain_steps=2000, freeze_pretrained=True,
              constant_learning_rate=0.02, foreground_fraction=1.0)
# One seed, a smaller dataset, fewer steps from scratch: estimated at 19
# minutes from the same measurements.
QUICK = Budget(name='quick', seeds=(0,), frames_per_clip=8,
               clip_lengths=(2, 8), num_steps=300, warmup_steps=30,
               num_eval_examples=140,
               dataset_overrides={'num_train_videos': 120,
                                  'num_val_videos': 10,
                                  'num_test_videos': 20})
