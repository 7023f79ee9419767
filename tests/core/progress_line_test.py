"""progress_line: when a line is written, and how, on a terminal and a log."""

import io

from acrn_tf.core import progress_line


class _Terminal(io.StringIO):

  def isatty(self):
    return True


class _Clock:

  def __init__(self):
    self.now = 100.0

  def __call__(self):
    return self.now


def _line(stream, clock):
  return progress_line.ProgressLine(lambda done: f'{done}/3',
                                    lambda done: done == 3, stream, clock)


def test_a_log_gets_a_line_every_5_seconds_and_the_last():
  stream, clock = io.StringIO(), _Clock()
  line = _line(stream, clock)
  line(0)        # the first is always written
  clock.now += 4.9
  line(1)        # too soon
  clock.now += 0.2
  line(2)        # 5.1 s after the first
  clock.now += 0.1
  line(3)        # the last, however soon
  assert stream.getvalue() == '0/3\n2/3\n3/3\n'


def test_a_terminal_redraws_in_place_every_0_2_seconds():
  stream, clock = _Terminal(), _Clock()
  line = _line(stream, clock)
  line(0)
  clock.now += 0.1
  line(1)        # too soon
  clock.now += 0.15
  line(2)
  line(3)        # the last ends the line
  assert stream.getvalue() == '\r0/3\r2/3\r3/3\n'


def test_format_seconds():
  assert progress_line.format_seconds(None) == '-:--'
  assert progress_line.format_seconds(4.4) == '0:04'
  assert progress_line.format_seconds(59.6) == '1:00'
  assert progress_line.format_seconds(3599) == '59:59'
  assert progress_line.format_seconds(3600 + 62) == '1:01:02'
