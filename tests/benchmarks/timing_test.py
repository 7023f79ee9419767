"""timing: statistics of repeated calls, on a fake clock."""

import pytest

from benchmarks import timing


class FakeClock:
  """Advances by the next duration each time the work runs."""

  def __init__(self, durations):
    self.now = 100.0
    self._durations = list(durations)
    self.calls = 0

  def __call__(self):
    return self.now

  def work(self):
    self.calls += 1
    self.now += self._durations.pop(0)
    return self.calls


def test_warmup_is_kept_apart_and_statistics_are_exact():
  # Two warm-up calls (5 s, 3 s), then 1, 4, 2, 3, 10 s.
  clock = FakeClock([5.0, 3.0, 1.0, 4.0, 2.0, 3.0, 10.0])
  stats = timing.time_callable(clock.work, num_repeats=5, num_warmup=2,
                               clock=clock)
  assert clock.calls == 7
  assert stats.warmup_seconds == pytest.approx(8.0)
  assert stats.samples_seconds == pytest.approx([1.0, 4.0, 2.0, 3.0, 10.0])
  assert stats.median_seconds == pytest.approx(3.0)
  assert stats.mean_seconds == pytest.approx(4.0)
  assert stats.min_seconds == pytest.approx(1.0)
  assert stats.max_seconds == pytest.approx(10.0)
  # Sorted 1, 2, 3, 4, 10: quartiles at positions 1 and 3 -> 2 and 4.
  assert stats.iqr_seconds == pytest.approx(2.0)
  assert stats.relative_spread == pytest.approx(2.0 / 3.0)
  # Sample stdev: deviations -3, 0, -2, -1, 6 -> sum of squares 50, / 4.
  assert stats.stdev_seconds == pytest.approx(50.0 ** 0.5 / 2.0)
  assert (stats.num_repeats, stats.num_warmup) == (5, 2)


def test_even_count_median_and_interpolated_quartiles():
  stats = timing.stats_from_samples([4.0, 1.0, 3.0, 2.0])
  assert stats.median_seconds == pytest.approx(2.5)
  # Positions 0.75 and 2.25 of 1, 2, 3, 4 -> 1.75 and 3.25.
  assert stats.iqr_seconds == pytest.approx(1.5)
  assert timing.stats_from_samples([7.0]).stdev_seconds == 0.0


def test_block_runs_inside_the_timed_region():
  clock = FakeClock([1.0, 1.0])
  seen = []

  def block(result):
    seen.append(result)
    clock.now += 0.5  # Waiting for the device takes time too.

  stats = timing.time_callable(clock.work, num_repeats=1, num_warmup=1,
                               clock=clock, block=block)
  assert seen == [1, 2]
  assert stats.samples_seconds == pytest.approx([1.5])


@pytest.mark.parametrize('repeats, warmup, message', [
    (0, 1, 'num_repeats must be >= 1, got 0'),
    (1, -1, 'num_warmup must be >= 0, got -1'),
])
def test_bad_counts(repeats, warmup, message):
  with pytest.raises(ValueError, match=message):
    timing.time_callable(lambda: None, repeats, warmup)


def test_bad_samples_and_fractions():
  with pytest.raises(ValueError, match='no timed calls'):
    timing.stats_from_samples([])
  with pytest.raises(ValueError, match='negative duration'):
    timing.stats_from_samples([1.0, -0.5])
  with pytest.raises(ValueError, match='fraction must be in'):
    timing.percentile([1.0], 1.5)


def test_wait_for_fetches_every_nested_tensor():
  fetched = []

  class Tensor:

    def __init__(self, name):
      self.name = name

    def numpy(self):
      fetched.append(self.name)

  timing.wait_for({'a': Tensor('a'), 'b': [Tensor('b'), (Tensor('c'), 3)]})
  assert sorted(fetched) == ['a', 'b', 'c']
