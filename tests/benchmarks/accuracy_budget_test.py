"""The accuracy benchmark's budget: refusals naming the field, the clip
lengths the records hold."""

import dataclasses

import pytest

from benchmarks import accuracy_budget

# FULL on the `benchmark` preset, for the validation tests.
_FULL = dataclasses.replace(accuracy_budget.FULL, preset='benchmark')


@pytest.mark.parametrize('changes,message', [
    ({'seeds': ()}, 'budget.seeds: give at least one seed'),
    ({'seeds': (1, 1)}, r'repeated seeds in \[1, 1\]'),
    ({'clip_lengths': (0, 8)}, 'clip lengths must be >= 1'),
    ({'num_steps': 0}, 'budget.num_steps must be >= 1, got 0'),
    ({'num_steps': 100, 'warmup_steps': 100},
     r'warmup_steps must be in \[0, num_steps\)'),
    ({'learning_rate': 0.0}, 'budget.learning_rate must be > 0, got 0.0'),
    ({'pretrain_steps': -1}, 'budget.pretrain_steps must be >= 0, got -1'),
    ({'preset': 'huge'}, "budget.preset: unknown synthetic preset 'huge'"),
    ({'scene_maps': ('Mixed_4f@-1',)},
     r"budget.scene_maps: scene maps 'Mixed_4f@-1'"),
    ({'scene_maps': ('Mixed_4f@1', 'Mixed_4f@1')},
     'budget.scene_maps: repeated'),
    ({'pretrain_steps': 0, 'freeze_pretrained': True},
     r'budget.freeze_pretrained needs a pretraining run \(pretrain_steps '
     '>= 1\)'),
    ({'constant_learning_rate': 0.0},
     'budget.constant_learning_rate must be > 0, got 0.0'),
    ({'constant_learning_rate': 0.02, 'learning_rate': 0.02},
     'budget: set learning_rate .the cosine peak. or constant_learning_rate'),
    ({'foreground_fraction': 0.0},
     r'budget.foreground_fraction must be in \(0, 1\], got 0.0'),
])
def test_impossible_budgets_are_refused(changes, message):
  with pytest.raises(ValueError, match=message):
    dataclasses.replace(_FULL, **changes).validate()


def test_the_presets_validate_and_the_records_hold_the_longest_clip():
  for budget in (accuracy_budget.FULL, accuracy_budget.QUICK):
    assert budget.validate() is budget
  assert dataclasses.replace(_FULL, frames_per_clip=4,
                             clip_lengths=(2, 16)).max_frames == 16
