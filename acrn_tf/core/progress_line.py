"""One progress line for a long job, redrawn on a stream the caller gives.

The CLIs (converters, video inference) report progress through callbacks
that the library calls with a progress record; this turns such a callback
into a line on the terminal. On a terminal the line is redrawn in place at
most every 0.2 s; into a file or pipe (CI logs, `nohup`) a new line is
written at most every 5 s so the log stays readable. The final record is
always written. absl's logging has no in-place redraw, hence this class.
"""

import sys
import time
from typing import Callable, Optional, TextIO

# Seconds between two lines: on a terminal, and into a file or pipe.
TTY_INTERVAL = 0.2
LOG_INTERVAL = 5.0


def format_seconds(seconds: Optional[float]) -> str:
  """A duration as 'M:SS', or 'H:MM:SS' from an hour on; '-:--' for None.

  The one format of every progress line and ETA the project prints.
  """
  if seconds is None:
    return '-:--'
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  if hours:
    return f'{hours}:{minutes:02d}:{seconds:02d}'
  return f'{minutes}:{seconds:02d}'


class ProgressLine:
  """A progress callback that draws `format_line(progress)` on `stream`."""

  def __init__(self, format_line: Callable[[object], str],
               is_final: Callable[[object], bool],
               stream: Optional[TextIO] = None,
               clock: Callable[[], float] = time.monotonic):
    """Args:

      format_line: progress record -> the line's text (no newline).
      is_final: progress record -> whether it is the job's last.
      stream: where to draw (default sys.stderr, looked up when created).
      clock: seconds, for the interval between lines (tests pass a fake).
    """
    self._format_line = format_line
    self._is_final = is_final
    self._stream = stream if stream is not None else sys.stderr
    self._tty = self._stream.isatty()
    self._clock = clock
    self._last = None

  def __call__(self, progress) -> None:
    now = self._clock()
    final = self._is_final(progress)
    interval = TTY_INTERVAL if self._tty else LOG_INTERVAL
    if (not final and self._last is not None
        and now - self._last < interval):
      return
    self._last = now
    line = self._format_line(progress)
    self._stream.write(f'\r{line}' if self._tty else f'{line}\n')
    if final and self._tty:
      self._stream.write('\n')
    self._stream.flush()
