"""accuracy_report: summaries worked out by hand, the page and the plots."""

import dataclasses
import json
import math

import pytest

from benchmarks import accuracy
from benchmarks import accuracy_budget
from benchmarks import accuracy_report as report

_BUDGET = accuracy_budget.Budget(name='test', seeds=(0, 1), frames_per_clip=8,
                          clip_lengths=(2, 8), num_steps=10, warmup_steps=1,
                          preset='benchmark')


def _result(model, seed, frames, ap, per_class=None):
  """A run's result; its relation mAP is (ap / 2 + ap / 4) / 2 = 3 ap / 8."""
  return {'model': model, 'seed': seed, 'frames_per_clip': frames,
          'name': f'{model}_f{frames}_s{seed}', 'frame_ap': ap,
          'per_class_ap': per_class or {'throw': ap, 'catch': ap / 2,
                                        'pass': ap / 2, 'look_at': ap / 4},
          'num_test_keyframes': 12, 'num_steps': 10, 'batch_size': 4,
          'train_seconds': 30.0, 'eval_seconds': 5.0}


def _results():
  return [
      _result('base', 0, 8, 0.10), _result('base', 1, 8, 0.20),
      _result('resize_concat', 0, 8, 0.12),
      _result('santoro', 0, 8, 0.11), _result('santoro', 1, 8, 0.13),
      _result('acrn', 0, 8, 0.30), _result('acrn', 1, 8, 0.40),
      _result('base', 0, 2, 0.05), _result('acrn', 0, 2, 0.15),
  ]


def _scene_map_result(spec, ap):
  result = _result('acrn', 0, 8, ap)
  result.update(scene_maps=spec, name=f'acrn_f8_s0_{spec}')
  result[accuracy.RELATION_SCENE_MAPS] = spec
  return result


def _results_with_1c():
  """_results(), ACRN relating to Mixed_4f@1, and three table 1c runs."""
  results = _results()
  for r in results:
    r[accuracy.RELATION_SCENE_MAPS] = ('' if r['model'] == 'base'
                                       else 'Mixed_4f@1')
  return results + [
      _scene_map_result('Conv2d_2c_3x3@1', 0.50),
      _scene_map_result('Conv2d_2c_3x3@0.5', 0.45),
      _scene_map_result('Conv2d_2c_3x3@0.5+Mixed_4f@0.5', 0.60),
      # Mixed scales: not a cell of the table.
      _scene_map_result('Conv2d_2c_3x3@0.5+Mixed_4f@1', 0.99),
  ]


def test_table_1c_is_acrn_by_scale_and_endpoints():
  table = report.table_1c(_results_with_1c(), seed=0, frames_per_clip=8)
  assert list(table) == [0.5, 1.0]
  # Columns in the order first seen; 1a's run (seed 0) is Mixed_4f at 1.
  assert table[1.0] == pytest.approx({
      'Mixed_4f': 30.0, 'Conv2d_2c_3x3': 50.0,
      'Conv2d_2c_3x3+Mixed_4f': None})
  assert table[0.5] == pytest.approx({
      'Mixed_4f': None, 'Conv2d_2c_3x3': 45.0, 'Conv2d_2c_3x3+Mixed_4f': 60.0})
  # Only 1a's run, or results without the key: no table.
  assert report.table_1c(_results_with_1c()[:9], 0, 8) == {}
  assert report.table_1c(_results(), 0, 8) == {}


def test_table_1c_runs_stay_out_of_tables_1a_1b_and_per_class():
  results = _results_with_1c()
  assert report.table_1a(results, 8)['acrn'].values == pytest.approx(
      (30.0, 40.0))
  assert report.table_1b(results, seed=0)[8]['acrn'] == pytest.approx(30.0)
  assert report.per_class(results, 8)['throw']['acrn'].values == (
      pytest.approx((30.0, 40.0)))
  names = {report.AP_PER_MODEL_PNG: 'a.png',
           report.AP_VS_CLIP_LENGTH_PNG: 'b.png',
           report.PER_CLASS_AP_PNG: 'c.png',
           report.AP_PER_SCENE_MAP_PNG: 'd.png'}
  text = report.format_markdown(results, _BUDGET, 'cmd', '2026-11-25', 1.0,
                                'a CPU', names)
  assert '## Scene maps (paper table 1c)' in text
  assert ('| Scale | Mixed_4f | Conv2d_2c_3x3 | Conv2d_2c_3x3, Mixed_4f |'
          in text)
  # frame-AP / relation mAP (3/8 of it).
  assert '| 0.5 | not run | 45.0 / 16.9 | 60.0 / 22.5 |' in text
  assert '| 1 | 30.0 / 11.2 | 50.0 / 18.8 | not run |' in text
  assert '![frame-AP per scene map](d.png)' in text
  assert '| acrn_f8_s0_Conv2d_2c_3x3@1 | 50.00 | 18.75 |' in text
  assert 'table 1c' not in report.format_markdown(
      _results(), _BUDGET, 'cmd', '2026-11-25', 1.0, 'a CPU', names)


def test_summarize_in_points_with_sample_std():
  summary = report.summarize([0.10, 0.20])
  assert summary.mean == pytest.approx(15.0)
  # Sample std of 10 and 20: sqrt(((-5)^2 + 5^2) / 1).
  assert summary.std == pytest.approx(math.sqrt(50.0))
  assert summary.count == 2
  assert report.summarize([0.3]).std == 0.0
  assert report.summarize([float('nan'), None, 0.2]).values == (20.0,)
  assert report.summarize([]).count == 0


def test_relation_map_worked_by_hand():
  per_class = {'throw': 0.9, 'pass': 0.5, 'look_at': 0.2, 'idle': 1.0}
  assert report.relation_map(per_class) == pytest.approx(0.35)
  # Undefined or absent classes are left out, as frame-AP leaves them out.
  assert report.relation_map({'pass': 0.5, 'look_at': None}) == (
      pytest.approx(0.5))
  assert report.relation_map({'pass': float('nan'), 'look_at': 0.3}) == (
      pytest.approx(0.3))
  assert report.relation_map({'throw': 0.9}) is None
  assert report.relation_map(per_class, classes=('throw', 'idle')) == (
      pytest.approx(0.95))
  result = _result('acrn', 0, 8, 0.4)
  assert report.metric(result) == 0.4
  assert report.metric(result, report.RELATION_MAP) == pytest.approx(0.15)
  with pytest.raises(ValueError, match="metric must be one of .* got 'x'"):
    report.metric(result, 'x')


def test_relation_map_in_tables_1a_1b_and_1c():
  rows = report.table_1a(_results(), 8, report.RELATION_MAP)
  assert rows['base'].values == pytest.approx((3.75, 7.5))
  assert rows['acrn'].mean == pytest.approx(13.125)
  assert report.table_1b(_results(), 0, report.RELATION_MAP)[2] == (
      pytest.approx({'base': 1.875, 'acrn': 5.625}))
  table = report.table_1c(_results_with_1c(), 0, 8, report.RELATION_MAP)
  assert table[0.5]['Conv2d_2c_3x3+Mixed_4f'] == pytest.approx(22.5)
  # A run without relation classes: undefined, not zero.
  results = [_result('base', 0, 8, 0.2, {'throw': 0.2}),
             _result('acrn', 0, 8, 0.3)]
  assert report.table_1a(results, 8, report.RELATION_MAP)['base'].count == 0
  text = report.format_markdown(results, _BUDGET, 'cmd', '2026-11-25', 1.0,
                                'a CPU', _NAMES)
  assert '| Base-Model | 20.0 |  | undefined |  | 1 |' in text
  assert '| ACRN | 30.0 | +10.0 | 11.2 |  | 1 |' in text


def test_table_1a_groups_by_model_at_the_budget_clip_length():
  rows = report.table_1a(_results(), 8)
  assert list(rows) == list(accuracy.MODELS)
  assert rows['base'].values == pytest.approx((10.0, 20.0))
  assert rows['resize_concat'].values == pytest.approx((12.0,))
  assert rows['acrn'].mean == pytest.approx(35.0)


def test_table_1b_is_the_first_seed_by_clip_length():
  table = report.table_1b(_results(), seed=0)
  assert list(table) == [2, 8]
  assert table[2] == pytest.approx({'base': 5.0, 'acrn': 15.0})
  assert table[8] == pytest.approx({'base': 10.0, 'acrn': 30.0})


def test_per_class_averages_over_seeds():
  classes = report.per_class(_results(), 8)
  assert list(classes) == ['throw', 'catch', 'pass', 'look_at']
  assert classes['catch']['acrn'].mean == pytest.approx(17.5)
  assert classes['throw']['base'].values == pytest.approx((10.0, 20.0))


_NAMES = {report.AP_PER_MODEL_PNG: 'a.png',
          report.AP_VS_CLIP_LENGTH_PNG: 'b.png',
          report.PER_CLASS_AP_PNG: 'c.png'}


def test_markdown_tables_and_command():
  names = _NAMES
  text = report.format_markdown(_results(), _BUDGET,
                                'python tools/benchmark.py accuracy',
                                '2026-11-25', 12.4, 'a CPU', names)
  assert ('Generated by `python tools/benchmark.py accuracy` on 2026-11-25 '
          '(12 minutes on a CPU)') in text
  resumed = report.format_markdown(_results(), _BUDGET, 'cmd', '2026-11-25',
                                   47.4, 'a CPU', names, invocations=2)
  assert ('(47 minutes over 2 invocations, each continuing where the last '
          'stopped, on a CPU)') in resumed
  # frame-AP, then the relation mAP (3/8 of it): Base 3.75 and 7.5 (mean
  # 5.6, std 2.65), ACRN 11.25 and 15.
  assert ('| Base-Model | 15.0 ± 7.1 |  | 5.6 ± 2.7 |  | 2 |') in text
  assert '| ACRN | 35.0 ± 7.1 | +20.0 | 13.1 ± 2.7 | +7.5 | 2 |' in text
  assert '| Resize+Concat | 12.0 | -3.0 | 4.5 | -1.1 | 1 |' in text
  assert ('| Frames | Base-Model frame-AP | ACRN frame-AP | Base-Model '
          'relation mAP | ACRN relation mAP |') in text
  assert '| 2 | 5.0 | 15.0 | 1.9 | 5.6 |' in text
  assert '| catch | 7.5 ± 3.5 | 17.5 ± 3.5 |' in text
  assert '| pass (relation) | 7.5 ± 3.5 | 17.5 ± 3.5 |' in text
  assert '| acrn_f2_s0 | 15.00 | 5.62 | 30 | 5 |' in text
  assert 'relation mAP is the mean AP over the classes another actor ' in text
  assert '![frame-AP per model](a.png)' in text
  assert 'heat maps' not in text
  assert '1 warm-up steps then cosine decay, 8-frame clips' in text
  with_rate = report.format_markdown(
      _results(), dataclasses.replace(_BUDGET, learning_rate=0.04),
      'python tools/benchmark.py accuracy', '2026-11-25', 12.4, 'a CPU',
      names)
  assert ('1 warm-up steps then cosine decay from a peak learning rate of '
          '0.04, 8-frame clips') in with_rate
  assert 'preset `benchmark`) with the same budget' in text
  assert 'pretrained' not in text
  pretrained = report.format_markdown(
      _results(), dataclasses.replace(_BUDGET, pretrain_steps=2000),
      'python tools/benchmark.py accuracy', '2026-11-25', 12.4, 'a CPU',
      names, pretrain_result=_result('base', 0, 8, 0.876))
  assert ('a Base-Model trained from scratch for 2000 steps on the train '
          'split (seed 0, 8-frame clips, frame-AP 87.6 on the test split)'
          ) in pretrained
  assert 'stay frozen' not in pretrained
  frozen = report.format_markdown(
      _results(), dataclasses.replace(
          _BUDGET, pretrain_steps=2000, freeze_pretrained=True,
          constant_learning_rate=0.02, foreground_fraction=1.0),
      'python tools/benchmark.py accuracy', '2026-11-25', 12.4, 'a CPU',
      names, pretrain_result=_result('base', 0, 8, 0.876))
  assert ('steps of batch 4, a constant learning rate of 0.02, actor ROIs '
          'only, 8-frame clips') in frozen
  assert ('(fine_tune_checkpoint_type SHARED_PARTS) and stay frozen '
          '(train_config.frozen_part; their batch norm in inference mode)'
          ) in frozen
  smaller = report.format_markdown(
      _results(), dataclasses.replace(
          _BUDGET, dataset_overrides={'num_train_videos': 120,
                                      'num_test_videos': 20}),
      'python tools/benchmark.py accuracy', '2026-11-25', 12.4, 'a CPU',
      names)
  assert ('preset `benchmark` with num_test_videos=20, num_train_videos=120) '
          'with the same budget') in smaller
  settings = report.format_markdown(
      _results(), _BUDGET, 'cmd', '2026-11-25', 12.4, 'a CPU', names,
      relation_settings='The relation modules relate each actor to X.')
  assert '\nThe relation modules relate each actor to X.\n' in settings
  assert 'relate each actor' not in text


def test_write_report_files(tmp_path):
  paths = report.write_report(str(tmp_path / 'out'), _results(), _BUDGET,
                              'cmd', 3.0, 'a CPU', date='2026-01-02')
  for key in (report.AP_PER_MODEL_PNG, report.AP_VS_CLIP_LENGTH_PNG,
              report.PER_CLASS_AP_PNG):
    with open(paths[key], 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  content = json.loads(open(paths[report.RESULTS_JSON]).read())
  assert content['budget']['seeds'] == [0, 1]
  assert len(content['runs']) == len(_results())
  assert content['pretrain'] is None
  assert content['relation_classes'] == ['pass', 'look_at']
  assert content['runs'][0]['relation_map'] == pytest.approx(0.0375)
  acrn = content['table_1a']['relation_map']['acrn']
  assert acrn['mean'] == pytest.approx(13.125)
  assert acrn['values'] == pytest.approx([11.25, 15.0])
  assert content['table_1a']['frame_ap']['base']['mean'] == pytest.approx(15)
  markdown = open(paths[report.RESULTS_MD]).read()
  assert '(accuracy_ap_per_model.png)' in markdown
  assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == sorted(
      ['accuracy_ap_per_model.png', 'accuracy_ap_vs_clip_length.png',
       'accuracy_per_class_ap.png', 'results.json', 'results.md'])


def test_write_report_plots_table_1c(tmp_path):
  paths = report.write_report(str(tmp_path), _results_with_1c(), _BUDGET,
                              'cmd', 3.0, 'a CPU', date='2026-01-02')
  with open(paths[report.AP_PER_SCENE_MAP_PNG], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  markdown = open(paths[report.RESULTS_MD]).read()
  assert '(accuracy_ap_per_scene_map.png)' in markdown
  runs = json.loads(open(paths[report.RESULTS_JSON]).read())['runs']
  assert runs[-1][accuracy.RELATION_SCENE_MAPS] == (
      'Conv2d_2c_3x3@0.5+Mixed_4f@1')


def test_loss_curves_are_table_1a_runs_of_the_first_seed():
  results = _results()
  for r in results:
    r['classification_loss'] = [[10, r['frame_ap']]]
  del results[2]['classification_loss']  # resize_concat: an older result
  pretrain = {'classification_loss': [[10, 2.0], [20, 1.0]]}
  curves = report.loss_curves(results, 0, 8, pretrain)
  assert curves == {'Pretraining (Base-Model)': [[10, 2.0], [20, 1.0]],
                    'Base-Model': [[10, 0.10]],
                    'Santoro et al. (relation network)': [[10, 0.11]],
                    'ACRN': [[10, 0.30]]}
  assert report.loss_curves(_results(), 0, 8) == {}


def test_write_report_plots_the_loss_curves(tmp_path):
  results = _results()
  for r in results:
    r['classification_loss'] = [[10, 1.0], [20, 0.5]]
  paths = report.write_report(str(tmp_path), results, _BUDGET, 'cmd', 3.0,
                              'a CPU', date='2026-01-02')
  with open(paths[report.CLASSIFICATION_LOSS_PNG], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  markdown = open(paths[report.RESULTS_MD]).read()
  assert 'Training curves of seed 0: the classification loss' in markdown
  assert '![classification loss](accuracy_classification_loss.png)' in (
      markdown)
  runs = json.loads(open(paths[report.RESULTS_JSON]).read())['runs']
  assert runs[0]['classification_loss'] == [[10, 1.0], [20, 0.5]]
