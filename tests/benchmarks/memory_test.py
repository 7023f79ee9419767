"""memory: RSS now, sampled peaks and the process peak."""

import numpy as np
import pytest

from benchmarks import memory


def test_sampler_sees_an_allocation():
  with memory.PeakRssSampler(interval_seconds=0.001) as sampler:
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched.
    block += 1.0
  del block
  assert sampler.peak_bytes - sampler.start_bytes >= 32 * 2**20
  # getrusage and /proc count pages a little differently.
  assert memory.process_peak_rss_bytes() >= 0.9 * sampler.peak_bytes


def test_bad_interval():
  with pytest.raises(ValueError, match='interval_seconds must be > 0'):
    memory.PeakRssSampler(0)
