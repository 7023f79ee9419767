"""speed: the backbone and g_theta measurements at tiny sizes."""

import pytest
import tensorflow as tf

from benchmarks import flops
from benchmarks import speed


def test_backbone_tiny():
  result = speed.measure_backbone(
      num_frames=4, height=32, width=32, depth_multiplier=0.125,
      final_endpoint='Mixed_3c', xla_modes=(False,), num_repeats=2)
  assert result.input_shape == (4, 32, 32)
  assert list(result.flops_by_endpoint)[-1] == 'Mixed_3c'
  # The hand count and the profiler's count of the traced graph agree.
  assert result.profiler_conv_flops == sum(result.flops_by_endpoint.values())
  (mode,) = result.modes
  assert mode.name == 'no xla' and mode.error is None
  assert result.gflops_per_second(mode) == pytest.approx(
      result.gflop / mode.median_seconds)


def test_backbone_bad_preset():
  with pytest.raises(ValueError, match="preset: expected one of"):
    speed.measure_backbone(preset='bottom_heavy')


def test_relation_tiny_speedups():
  result = speed.measure_relation(num_actors=3, map_size=(4, 5),
                                  channels=(6, 7, 8), xla_modes=(False, True),
                                  num_repeats=2)
  assert [m.name for m in result.modes] == [
      'decomposed, no xla', 'naive, no xla', 'decomposed, xla', 'naive, xla']
  assert result.naive_flops == flops.g_theta_flops(3, 4, 5, 6, 7, 8, False)
  speedups = result.speedups()
  by_name = {m.name: m.median_seconds for m in result.modes}
  assert speedups['no xla'] == pytest.approx(
      by_name['naive, no xla'] / by_name['decomposed, no xla'])
  assert set(speedups) == {'no xla', 'xla'}


def test_paper_relation_channels():
  assert speed.paper_relation_channels() == (1024, 832, 832)


def test_xla_failure_is_recorded_not_raised():
  def fails():
    raise tf.errors.InvalidArgumentError(None, None, 'cannot compile\nmore')

  mode = speed.time_mode('x', True, fails, 1, 0)
  assert mode.stats is None and mode.median_seconds is None
  assert mode.error == 'InvalidArgumentError: cannot compile'
  with pytest.raises(tf.errors.InvalidArgumentError):
    speed.time_mode('x', False, fails, 1, 0)
