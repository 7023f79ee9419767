"""conv_peak: tiny convolutions timed with and without XLA."""

import pytest

from benchmarks import conv_peak


def test_shapes_and_flops():
  conv2d, conv3d = conv_peak.default_shapes(quick=True, channels=4)
  assert conv2d.input_shape == (1, 28, 28, 4)
  assert conv2d.output_shape == (1, 28, 28, 4)
  assert conv2d.flops == 2 * 28 * 28 * 4 * 3 * 3 * 4
  assert conv3d.flops == 2 * 4 * 14 * 14 * 4 * 27 * 4


def test_measure_peak_on_tiny_convs():
  shapes = [conv_peak.ConvShape('tiny 2d', (1, 6, 5, 3), (3, 3, 3, 4)),
            conv_peak.ConvShape('tiny 3d', (1, 2, 4, 4, 3), (3, 3, 3, 3, 2))]
  result = conv_peak.measure_conv_peak(shapes, (False, True), num_repeats=2,
                                       num_warmup=1)
  assert [(m.shape.name, m.use_xla) for m in result.measurements] == [
      ('tiny 2d', False), ('tiny 2d', True), ('tiny 3d', False),
      ('tiny 3d', True)]
  for m in result.measurements:
    assert m.stats.num_repeats == 2
    assert m.gflops_per_second == pytest.approx(
        m.shape.flops / 1e9 / m.stats.median_seconds)
  assert result.peak_gflops_per_second == max(
      m.gflops_per_second for m in result.measurements)


def test_bad_shapes():
  with pytest.raises(ValueError, match='the kernel takes 2 channels, the '
                     'input has 3'):
    conv_peak.measure_conv(conv_peak.ConvShape('x', (1, 4, 4, 3),
                                               (3, 3, 2, 4)), False, 1)
  with pytest.raises(ValueError, match='need at least one shape'):
    conv_peak.measure_conv_peak([], (False,))
