"""The warm-up, hold and cosine-decay schedule, checked at hand-worked steps."""

import math

import pytest

from acrn_tf.core import learning_schedules


def _lr(schedule, step):
  return float(schedule(step))


def test_paper_schedule_values():
  # Paper 4.1: 1e-5 -> 1e-3 linearly over 40k steps, then cosine to 0 at 200k.
  schedule = learning_schedules.CosineDecayWithWarmup(
      learning_rate_base=1e-3, total_steps=200000,
      warmup_learning_rate=1e-5, warmup_steps=40000)
  assert _lr(schedule, 0) == pytest.approx(1e-5)
  # Half-way through warm-up: 1e-5 + (1e-3 - 1e-5) / 2 = 5.05e-4.
  assert _lr(schedule, 20000) == pytest.approx(5.05e-4)
  assert _lr(schedule, 40000) == pytest.approx(1e-3)
  # Half-way through the decay the cosine is at 0: lr = base / 2.
  assert _lr(schedule, 120000) == pytest.approx(5e-4)
  # A quarter of the way: 0.5 * (1 + cos(pi / 4)) * 1e-3.
  assert _lr(schedule, 80000) == pytest.approx(
      0.5 * (1 + math.cos(math.pi / 4)) * 1e-3, rel=1e-5)
  assert _lr(schedule, 200000) == 0.0
  assert _lr(schedule, 250000) == 0.0


def test_hold_keeps_the_base_rate():
  schedule = learning_schedules.CosineDecayWithWarmup(
      learning_rate_base=0.1, total_steps=100, warmup_learning_rate=0.0,
      warmup_steps=10, hold_base_rate_steps=20)
  assert _lr(schedule, 5) == pytest.approx(0.05)
  for step in (10, 20, 29):
    assert _lr(schedule, step) == pytest.approx(0.1)
  # Decay runs over steps 30..100: at 65 it is half-way.
  assert _lr(schedule, 65) == pytest.approx(0.05)


def test_no_warmup():
  schedule = learning_schedules.CosineDecayWithWarmup(
      learning_rate_base=0.2, total_steps=10)
  assert _lr(schedule, 0) == pytest.approx(0.2)
  assert _lr(schedule, 5) == pytest.approx(0.1)


def test_impossible_schedules_are_refused():
  with pytest.raises(ValueError, match=r'warmup_steps \+ hold_base_rate_steps'
                     r' \(80 \+ 30\) must be <= total_steps \(100\)'):
    learning_schedules.CosineDecayWithWarmup(0.1, 100, 0.0, 80, 30)
  with pytest.raises(ValueError, match='warmup_learning_rate'):
    learning_schedules.CosineDecayWithWarmup(0.1, 100, 0.5, 10)


def test_config_round_trip():
  schedule = learning_schedules.CosineDecayWithWarmup(0.1, 100, 0.01, 10, 5)
  again = learning_schedules.CosineDecayWithWarmup.from_config(
      schedule.get_config())
  for step in (0, 7, 12, 50, 99):
    assert _lr(again, step) == pytest.approx(_lr(schedule, step))
