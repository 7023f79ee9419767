"""accuracy_plots: each plot is written as a PNG from tables of its shape.

The tables themselves are accuracy_report's (accuracy_report_test).
"""

from benchmarks import accuracy_plots
from benchmarks import accuracy_report as report


def _is_png(path):
  with open(path, 'rb') as f:
    return f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_every_plot_is_a_png(tmp_path):
  summary = report.summarize([0.4, 0.5])
  none = report.summarize([])
  rows = {'frame-AP': {'base': summary, 'resize_concat': none,
                       'santoro': summary, 'acrn': summary},
          'relation mAP': {'base': none, 'resize_concat': none,
                           'santoro': summary, 'acrn': summary}}
  accuracy_plots.plot_ap_per_model(str(tmp_path / 'a.png'), rows)
  clip = {'frame-AP': {2: {'base': 10.0, 'acrn': None},
                       8: {'base': 20.0, 'acrn': 30.0}},
          'relation mAP': {2: {'base': None, 'acrn': None},
                           8: {'base': 5.0, 'acrn': 15.0}}}
  accuracy_plots.plot_ap_vs_clip_length(str(tmp_path / 'b.png'), clip)
  scene = {0.5: {'Mixed_4f': 40.0, 'Mixed_3c': None},
           1.0: {'Mixed_4f': 45.0, 'Mixed_3c': 50.0}}
  relation = {0.5: {'Mixed_4f': None, 'Mixed_3c': None},
              1.0: {'Mixed_4f': 20.0, 'Mixed_3c': 25.0}}
  accuracy_plots.plot_ap_per_scene_map(str(tmp_path / 'c.png'), scene,
                                       relation)
  accuracy_plots.plot_per_class(
      str(tmp_path / 'd.png'),
      {'pass': {'base': summary, 'acrn': none},
       'idle': {'base': summary, 'acrn': summary}})
  for name in 'abcd':
    assert _is_png(tmp_path / f'{name}.png')
