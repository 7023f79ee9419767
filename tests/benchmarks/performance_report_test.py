"""performance_report: the files written and their content."""

import json
import os

import pytest

from benchmarks import performance_report as report_lib

_COMMAND = 'python tools/benchmark.py speed --quick'


def _report():
  ok = report_lib.section(
      'Convolution peak', notes=['Peak: 12.0 GFLOP/s.'],
      columns=['convolution', 'GFLOP/s'],
      rows=[['conv2d 3x3', '12.0'], ['conv3d 3x3x3', '9.5']],
      chart=report_lib.bar_chart('Throughput', 'GFLOP/s',
                                 ['conv2d 3x3', 'conv3d 3x3x3', 'failed'],
                                 [12.0, 9.5, None]),
      data={'peak_gflops_per_second': 12.0})
  missing = report_lib.section(
      'Training', report_lib.STATUS_NOT_AVAILABLE,
      reason='the training library has no train step yet.')
  return {
      'command': _COMMAND, 'date': '2026-01-02T03:04:05+00:00',
      'wall_seconds': 12.5,
      'machine': {'cpu_model': 'Test CPU 9000', 'logical_cores': 4,
                  'usable_cores': 2, 'cpu_mhz': 2000.0,
                  'cpu_flags': ['avx2'], 'tensorflow_version': '2.20.0',
                  'onednn_enabled': False, 'onednn_env': None,
                  'xla_built': True, 'gpus': [], 'python_version': '3.11',
                  'platform': 'Linux', 'load_average': [1.5, 1.25, 1.0]},
      'options': {'quick': True},
      'sections': {'conv_peak': ok, 'training': missing},
  }


def test_bar_chart_drops_missing_values():
  chart = report_lib.bar_chart('t', 'ms', ['a', 'b', 'c'], [1, None, 3])
  assert chart['labels'] == ['a', 'c'] and chart['values'] == [1.0, 3.0]


def test_write_report_files(tmp_path):
  out = tmp_path / 'perf'
  paths = report_lib.write_report(str(out), _report())
  assert sorted(os.listdir(out)) == ['conv_peak.png', 'performance.json',
                                     'performance.md']
  assert paths['conv_peak'] == str(out / 'conv_peak.png')
  with open(out / 'conv_peak.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert json.loads((out / 'performance.json').read_text()) == _report()
  markdown = (out / 'performance.md').read_text()
  assert _COMMAND in markdown
  assert '2026-01-02T03:04:05+00:00' in markdown
  assert 'Test CPU 9000' in markdown and '2 usable of 4 logical' in markdown
  assert 'load average 1.50 / 1.25 / 1.00 (1 / 5 / 15 min)' in markdown
  assert '| conv2d 3x3 | 12.0 |' in markdown
  assert '![Convolution peak](conv_peak.png)' in markdown
  assert ('**not available**: the training library has no train step yet.'
          in markdown)


def test_busy_machine_caution():
  report = _report()
  report['load_average_end'] = [0.5, 0.5, 0.5]
  text = report_lib.format_console(report)
  assert 'Load average 0.50 / 0.50 / 0.50 at the end' in text
  # Load 1.5 at the start on 2 cores: more than 0.5 per core.
  assert ('Caution: other processes shared the 2 cores (1-minute load up to '
          '1.50)') in text
  report['machine']['load_average'] = [0.2, 0.2, 0.2]
  assert 'Caution' not in report_lib.format_markdown(report)


def test_console_text():
  text = report_lib.format_console(_report())
  assert '== Convolution peak ==' in text
  assert 'conv3d 3x3x3  9.5' in text
  assert 'not available: the training library has no train step yet.' in text
  assert 'oneDNN off' in text


def test_aligned_table():
  assert report_lib.format_table(['a', 'bb'], [['xxx', '1']]) == (
      'a    bb\n---  --\nxxx  1')


def test_missing_fields_are_named():
  report = _report()
  del report['machine']
  with pytest.raises(report_lib.ReportError, match="missing field 'machine'"):
    report_lib.format_markdown(report)
  report = _report()
  del report['sections']['training']['table']
  with pytest.raises(report_lib.ReportError,
                     match="section 'training' has no 'table'"):
    report_lib.format_console(report)
