"""speed_suite: sections in one run, peak ratios, failures kept apart."""

import pytest

from benchmarks import performance_report as report_lib
from benchmarks import speed_sections
from benchmarks import speed_suite


def _tiny_options(sections, **kwargs):
  return speed_suite.SpeedOptions(
      sections=sections, xla_modes=(False,), quick=True, num_repeats=2,
      conv_channels=4, backbone_clip=(2, 16, 16),
      backbone_depth_multiplier=0.125, relation_num_actors=2,
      relation_map_size=(3, 3), relation_channels=(4, 5, 6),
      command='python tools/benchmark.py speed --test', **kwargs)


def test_backbone_fraction_uses_this_runs_peak():
  seen = []
  report = speed_suite.run_speed_suite(
      _tiny_options(['backbone', 'conv_peak', 'relation']), seen.append)
  # Sections run in the suite's order, whatever order they were asked in.
  assert seen == ['conv_peak', 'backbone', 'relation']
  sections = report['sections']
  assert list(sections) == seen
  assert all(s['status'] == report_lib.STATUS_OK for s in sections.values())
  before = sections['conv_peak']['data']['peak_gflops_per_second']
  backbone = sections['backbone']['data']
  # The best convolution is timed again after the backbone; the higher
  # of the two rates is the reference.
  after = backbone['peak_after_gflops_per_second']
  assert backbone['peak_gflops_per_second'] == max(before, after)
  (mode,) = backbone['modes']
  assert mode['fraction_of_peak'] == pytest.approx(
      mode['gflops_per_second'] / max(before, after))
  assert sections['relation']['data']['speedup']['no xla'] > 0
  assert report['command'] == 'python tools/benchmark.py speed --test'
  assert report['machine']['tensorflow_version']


def test_unknown_section():
  with pytest.raises(ValueError, match='unknown section.*flops'):
    speed_suite.run_speed_suite(_tiny_options(['relation', 'flops']))


def test_failing_section_is_reported_and_others_run(monkeypatch):
  def broken(options, context):
    raise RuntimeError('out of memory')

  monkeypatch.setitem(speed_sections.__dict__, 'relation_section', broken)
  report = speed_suite.run_speed_suite(_tiny_options(['conv_peak',
                                                      'relation']))
  relation = report['sections']['relation']
  assert relation['status'] == report_lib.STATUS_FAILED
  assert relation['reason'] == 'RuntimeError: out of memory'
  assert report['sections']['conv_peak']['status'] == report_lib.STATUS_OK
