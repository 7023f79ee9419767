"""Warm-up then repeated timing of a callable: median and spread.

`timeit` gives the minimum of repeated loops; a benchmark of TensorFlow
functions needs the warm-up calls (tracing, XLA compilation, allocator
growth) kept apart and the median with its spread, so the helper is written
here. Timings use `time.perf_counter` unless a clock is given (tests pass a
fake one).
"""

import dataclasses
import math
import statistics
import time
from typing import Any, Callable, List, Optional, Sequence


@dataclasses.dataclass(frozen=True)
class TimingStats:
  """Statistics of repeated timings of one callable, in seconds.

  Attributes:
    median_seconds: median of the timed calls.
    mean_seconds: mean of the timed calls.
    min_seconds: fastest timed call.
    max_seconds: slowest timed call.
    stdev_seconds: sample standard deviation (0 for one call).
    iqr_seconds: interquartile range (75th - 25th percentile, linear
      interpolation between order statistics).
    num_repeats: timed calls.
    num_warmup: untimed calls before them.
    warmup_seconds: total time of the warm-up calls (tracing, compilation).
    samples_seconds: every timed call, in call order.
  """
  median_seconds: float
  mean_seconds: float
  min_seconds: float
  max_seconds: float
  stdev_seconds: float
  iqr_seconds: float
  num_repeats: int
  num_warmup: int
  warmup_seconds: float
  samples_seconds: List[float]

  @property
  def relative_spread(self) -> float:
    """Interquartile range over the median (0 when the median is 0)."""
    if self.median_seconds <= 0:
      return 0.0
    return self.iqr_seconds / self.median_seconds


def percentile(values: Sequence[float], fraction: float) -> float:
  """The `fraction` quantile of `values`, linear between order statistics.

  Args:
    values: at least one number.
    fraction: in [0, 1].

  Returns:
    The quantile (numpy's default 'linear' method).

  Raises:
    ValueError: `values` is empty or `fraction` is outside [0, 1].
  """
  if not values:
    raise ValueError('percentile: no values')
  if not 0.0 <= fraction <= 1.0:
    raise ValueError(f'percentile: fraction must be in [0, 1], got {fraction}')
  ordered = sorted(values)
  position = fraction * (len(ordered) - 1)
  low = math.floor(position)
  high = min(low + 1, len(ordered) - 1)
  weight = position - low
  return ordered[low] * (1.0 - weight) + ordered[high] * weight


def stats_from_samples(samples: Sequence[float], num_warmup: int = 0,
                       warmup_seconds: float = 0.0) -> TimingStats:
  """`TimingStats` of already measured durations (seconds).

  Raises:
    ValueError: no samples, or a negative one.
  """
  samples = [float(s) for s in samples]
  if not samples:
    raise ValueError('stats_from_samples: no timed calls')
  if min(samples) < 0:
    raise ValueError(f'stats_from_samples: negative duration in {samples}')
  return TimingStats(
      median_seconds=statistics.median(samples),
      mean_seconds=statistics.fmean(samples),
      min_seconds=min(samples),
      max_seconds=max(samples),
      stdev_seconds=statistics.stdev(samples) if len(samples) > 1 else 0.0,
      iqr_seconds=percentile(samples, 0.75) - percentile(samples, 0.25),
      num_repeats=len(samples),
      num_warmup=num_warmup,
      warmup_seconds=warmup_seconds,
      samples_seconds=samples)


def time_callable(fn: Callable[[], Any],
                  num_repeats: int,
                  num_warmup: int = 1,
                  clock: Optional[Callable[[], float]] = None,
                  block: Optional[Callable[[Any], Any]] = None
                  ) -> TimingStats:
  """Calls `fn` `num_warmup` times untimed, then times `num_repeats` calls.

  Args:
    fn: the work, called without arguments.
    num_repeats: timed calls, >= 1.
    num_warmup: untimed calls first, >= 0.
    clock: returns seconds (default `time.perf_counter`).
    block: called on `fn`'s result inside the timed region, to wait for
      asynchronous work (e.g. `block_until_ready`); default none.

  Returns:
    `TimingStats` of the timed calls.

  Raises:
    ValueError: `num_repeats` < 1 or `num_warmup` < 0.
  """
  if num_repeats < 1:
    raise ValueError(f'num_repeats must be >= 1, got {num_repeats}')
  if num_warmup < 0:
    raise ValueError(f'num_warmup must be >= 0, got {num_warmup}')
  clock = clock or time.perf_counter

  def call():
    result = fn()
    if block is not None:
      block(result)

  start = clock()
  for _ in range(num_warmup):
    call()
  warmup_seconds = clock() - start
  samples = []
  for _ in range(num_repeats):
    start = clock()
    call()
    samples.append(clock() - start)
  return stats_from_samples(samples, num_warmup, warmup_seconds)


def wait_for(result: Any) -> None:
  """Blocks until every tensor in `result` (nested dicts/lists) is computed.

  Each leaf with a `numpy` method (an eager tensor) is fetched; on CPU this
  shares the tensor's buffer, on an accelerator it waits for the device.
  """
  pending = [result]
  while pending:
    value = pending.pop()
    if isinstance(value, dict):
      pending.extend(value.values())
    elif isinstance(value, (list, tuple)):
      pending.extend(value)
    elif hasattr(value, 'numpy'):
      value.numpy()
