"""Resident memory of this process: sampled peaks and the lifetime peak."""

import os
import resource
import sys
import threading
from typing import Optional

_PAGE_SIZE = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096


def current_rss_bytes() -> Optional[int]:
  """Resident set size now (psutil, else /proc/self/statm), None if unknown."""
  try:
    import psutil  # pylint: disable=g-import-not-at-top
    return int(psutil.Process().memory_info().rss)
  except ImportError:
    pass
  try:
    with open('/proc/self/statm', 'r', encoding='ascii') as f:
      return int(f.read().split()[1]) * _PAGE_SIZE
  except (OSError, ValueError, IndexError):
    return None


def process_peak_rss_bytes() -> int:
  """The process's peak RSS since it started.

  Linux's VmHWM (/proc/self/status) where there is one: `getrusage`'s
  ru_maxrss survives `exec`, so a process spawned by a big one would report
  its parent's peak.
  """
  try:
    with open('/proc/self/status', 'r', encoding='ascii') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  # Linux reports KiB, macOS bytes.
  return int(peak if sys.platform == 'darwin' else peak * 1024)


class PeakRssSampler:
  """Context manager sampling RSS in a thread; `peak_bytes` after exit.

  `getrusage` only knows the whole process's peak, which earlier work (a
  bigger model) may have set; sampling gives the peak of one section.
  Short spikes between two samples are missed.
  """

  def __init__(self, interval_seconds: float = 0.01):
    if interval_seconds <= 0:
      raise ValueError(f'interval_seconds must be > 0, got '
                       f'{interval_seconds}')
    self._interval = interval_seconds
    self._stop = threading.Event()
    self._thread = None
    self.peak_bytes: Optional[int] = None
    self.start_bytes: Optional[int] = None

  def _sample(self):
    value = current_rss_bytes()
    if value is not None and (self.peak_bytes is None or
                              value > self.peak_bytes):
      self.peak_bytes = value

  def _run(self):
    while not self._stop.wait(self._interval):
      self._sample()

  def __enter__(self) -> 'PeakRssSampler':
    self.start_bytes = current_rss_bytes()
    self._sample()
    self._thread = threading.Thread(target=self._run, daemon=True)
    self._thread.start()
    return self

  def __exit__(self, *exc_info):
    self._stop.set()
    self._thread.join()
    self._sample()
    return False
