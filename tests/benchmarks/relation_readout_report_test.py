"""relation_readout_report: the stage's offsets, the markdown, the files."""

import json
import os

import pytest

from benchmarks import relation_readout_report as report


def _dataset_info(directory, **config):
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, 'dataset_info.json'), 'w') as f:
    json.dump({'preset': 'x', 'config': config}, f)
  return os.path.join(directory, 'label_map.pbtxt')


def test_stage_offsets_are_one_separation_each_way(tmp_path):
  label_map = _dataset_info(str(tmp_path), layout='stage',
                            min_actor_separation_px=176.0, frame_width=960)
  offsets, source = report.stage_partner_offsets(label_map)
  assert offsets == pytest.approx([-176 / 960, 176 / 960])
  assert source.endswith('dataset_info.json: min_actor_separation_px 176 '
                         'of frame_width 960')


def test_without_dataset_info_or_a_stage_the_offsets_are_asked_for(tmp_path):
  missing = str(tmp_path / 'none' / 'label_map.pbtxt')
  with pytest.raises(ValueError, match='dataset_info.json: not found'):
    report.stage_partner_offsets(missing)
  scatter = _dataset_info(str(tmp_path / 'scatter'), layout='scatter')
  with pytest.raises(ValueError, match="config.layout is 'scatter', not "
                     "'stage'.*--partner_offsets_px"):
    report.stage_partner_offsets(scatter)


def _summary():
  aps = lambda p, l: {'own': 100.0, 'pass': p, 'look_at': l}
  return {
      'command': 'python tools/relation_readout.py --run_dir r',
      'date': '2026-12-06',
      'run_dir': 'r', 'checkpoint': 'r/ckpt-5', 'endpoint': 'Mixed_4f',
      'map_size': '6x60', 'num_train_actors': 30, 'num_test_actors': 10,
      'class_names': ['own', 'pass', 'look_at'],
      'relation_classes': ['pass', 'look_at'],
      'offsets': [-0.25, 0.25], 'offsets_source': 'given',
      'linear': {'actor_only': aps(50.0, None),
                 'actor_only_relation_map': 50.0,
                 'with_scene': aps(90.0, 80.0),
                 'with_scene_relation_map': 85.0},
      'relation_module': {
          'name': 'acrn', 'scene_scales': '0.25', 'optimizer': 'momentum',
          'actor_feature_in_g_theta': False,
          'lr': 0.02, 'batch_size': 16,
          'curve': [{'step': 10, 'loss': 0.5, 'ap': aps(51.0, 60.0)},
                    {'step': 20, 'loss': 0.4, 'ap': aps(52.0, 70.5)}]},
  }


def test_markdown_rows():
  lines = report.format_markdown(_summary()).splitlines()
  assert ('| inputs | own | pass (relation) | look_at (relation) | '
          'relation mAP |') in lines
  assert '| f_a | 100.0 | 50.0 | - | 50.0 |' in lines
  assert ('| f_a + F at the actor and the offsets | 100.0 | 90.0 | 80.0 | '
          '85.0 |') in lines
  assert '| 20 | 0.400 | 100.0 | 52.0 | 70.5 |' in lines
  assert ('Made on 2026-12-06 by `python tools/relation_readout.py '
          '--run_dir r`.') in lines
  assert ('## Relation module `acrn` (scene scale 0.25; g_theta without '
          'f_a), test AP while it trains') in lines
  assert ('Momentum SGD (0.9), constant learning rate 0.02, 16 actors per '
          'step.') in lines
  assert 'Partner offsets: -0.250, +0.250 of the frame\'s width (given).' in (
      lines)


def test_write_leaves_three_whole_files(tmp_path):
  paths = report.write(str(tmp_path / 'out'), _summary())
  assert sorted(os.listdir(tmp_path / 'out')) == [
      'readout.json', 'readout.md', 'readout.png']
  with open(paths['json']) as f:
    assert json.load(f) == _summary()
  assert os.path.getsize(paths['png']) > 1000
