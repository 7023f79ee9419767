"""The convolution throughput this machine reaches: the reference for ratios.

A large dense convolution keeps the CPU's (or GPU's) multiply-add units as
busy as TensorFlow can; its GFLOP/s, measured in the same run as the model
timings, is the peak every other figure is compared with. A few shapes are
tried, with and without XLA; the best median is the peak.
"""

import dataclasses
from typing import List, Optional, Sequence, Tuple

import tensorflow as tf

from benchmarks import flops
from benchmarks import timing


@dataclasses.dataclass(frozen=True)
class ConvShape:
  """One convolution to time: SAME padding, stride 1.

  Attributes:
    name: label in the report.
    input_shape: [batch, h, w, c_in] (2D) or [batch, t, h, w, c_in] (3D).
    kernel_shape: [k_h, k_w, c_in, c_out] or [k_t, k_h, k_w, c_in, c_out].
  """
  name: str
  input_shape: Tuple[int, ...]
  kernel_shape: Tuple[int, ...]

  @property
  def output_shape(self) -> Tuple[int, ...]:
    return tuple(self.input_shape[:-1]) + (self.kernel_shape[-1],)

  @property
  def flops(self) -> int:
    return flops.conv_flops(self.output_shape, self.kernel_shape)


def default_shapes(quick: bool = False,
                   channels: Optional[int] = None) -> List[ConvShape]:
  """The convolutions timed: a 3x3 conv2d and a 3x3x3 conv3d.

  Args:
    quick: smaller maps (fewer FLOPs per call) for a quick run.
    channels: input and output channels (default 256); tests use few.

  Returns:
    A 2D and a 3D `ConvShape` with `channels` in and out.
  """
  c = channels or 256
  size = 28 if quick else 56
  return [
      ConvShape(f'conv2d 3x3, {size}x{size}x{c} -> {c}',
                (1, size, size, c), (3, 3, c, c)),
      ConvShape(f'conv3d 3x3x3, 4x{size // 2}x{size // 2}x{c} -> {c}',
                (1, 4, size // 2, size // 2, c), (3, 3, 3, c, c)),
  ]


@dataclasses.dataclass(frozen=True)
class ConvMeasurement:
  """One convolution timed with or without XLA."""
  shape: ConvShape
  use_xla: bool
  stats: timing.TimingStats

  @property
  def gflop(self) -> float:
    return self.shape.flops / 1e9

  @property
  def gflops_per_second(self) -> float:
    return self.gflop / self.stats.median_seconds


@dataclasses.dataclass(frozen=True)
class ConvPeakResult:
  """Every convolution measured and the best of them (the peak)."""
  measurements: List[ConvMeasurement]

  @property
  def best(self) -> ConvMeasurement:
    return max(self.measurements, key=lambda m: m.gflops_per_second)

  @property
  def peak_gflops_per_second(self) -> float:
    return self.best.gflops_per_second


def _conv_fn(shape: ConvShape, use_xla: bool):
  rank = len(shape.input_shape)
  if rank not in (4, 5) or len(shape.kernel_shape) != rank:
    raise ValueError(f'{shape.name}: need a [b, h, w, c] input and a 4-D '
                     f'kernel, or [b, t, h, w, c] and a 5-D one; got '
                     f'{shape.input_shape} and {shape.kernel_shape}')
  if shape.kernel_shape[-2] != shape.input_shape[-1]:
    raise ValueError(f'{shape.name}: the kernel takes '
                     f'{shape.kernel_shape[-2]} channels, the input has '
                     f'{shape.input_shape[-1]}')
  conv = tf.nn.conv2d if rank == 4 else tf.nn.conv3d

  @tf.function(jit_compile=use_xla, reduce_retracing=True)
  def run(inputs, kernel):
    return conv(inputs, kernel, [1] * rank, 'SAME')

  return run


def measure_conv(shape: ConvShape, use_xla: bool, num_repeats: int,
                 num_warmup: int = 1) -> ConvMeasurement:
  """Times one convolution (random data) and returns its measurement."""
  inputs = tf.random.normal(shape.input_shape, seed=1)
  kernel = tf.random.normal(shape.kernel_shape, seed=2) * 0.05
  run = _conv_fn(shape, use_xla)
  stats = timing.time_callable(lambda: run(inputs, kernel), num_repeats,
                               num_warmup, block=timing.wait_for)
  return ConvMeasurement(shape, use_xla, stats)


def measure_conv_peak(shapes: Sequence[ConvShape],
                      xla_modes: Sequence[bool] = (False, True),
                      num_repeats: int = 10,
                      num_warmup: int = 2) -> ConvPeakResult:
  """Times every shape in every XLA mode.

  Args:
    shapes: the convolutions (e.g. `default_shapes()`).
    xla_modes: False (TensorFlow kernels), True (XLA-compiled) or both.
    num_repeats: timed calls per measurement.
    num_warmup: untimed calls first (tracing, compilation).

  Returns:
    `ConvPeakResult`; its `peak_gflops_per_second` is the best median.

  Raises:
    ValueError: no shapes or modes, or an inconsistent shape.
  """
  if not shapes or not xla_modes:
    raise ValueError('measure_conv_peak: need at least one shape and mode')
  measurements = []
  for shape in shapes:
    for use_xla in xla_modes:
      measurements.append(measure_conv(shape, use_xla, num_repeats,
                                       num_warmup))
  return ConvPeakResult(measurements)
