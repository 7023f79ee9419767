"""relation_readout as users run it, on a tiny run and its records.

The run is the tiny ACRN config's model, saved untrained: the readouts'
numbers mean nothing here (tests/benchmarks/relation_readout_test.py checks
them on data built by hand); this checks what is cached and written.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import model_builder
from benchmarks import relation_readout
from tests.training import training_fixtures as fx

_TOOL = os.path.join(fx.REPO, 'tools', 'relation_readout.py')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('readout'))
  paths = fx.make_records(root)
  config = fx.load_config(paths)
  run_dir = os.path.join(root, 'run')
  model = model_builder.build_with_variables(
      config, config_util.eval_input_reader(config), is_training=False)
  tf.train.CheckpointManager(tf.train.Checkpoint(model=model), run_dir,
                             max_to_keep=1).save()
  config_util.save_pipeline_config(config, run_dir)
  return dict(paths, run_dir=run_dir, config=config)


def _annotated_boxes(label_map_path, split):
  """(video, timestamp, box) triples of a split's AVA-style CSV."""
  path = os.path.join(os.path.dirname(label_map_path), f'{split}.csv')
  with open(path) as f:
    return {tuple(row[:6]) for row in csv.reader(f) if len(row) >= 7}


def test_extract_caches_every_keyframe_and_groundtruth_box(run):
  config = run['config']
  cache = relation_readout.extract(config, run['run_dir'] + '/ckpt-1',
                                   run['val'])
  boxes = _annotated_boxes(run['label_map'], 'val')
  keyframes = {b[:2] for b in boxes}
  assert cache.scene_maps.shape[0] == len(keyframes)
  assert cache.num_actors == len(boxes)
  reader = config_util.eval_input_reader(config)
  assert cache.actor_features.shape[:2] == (len(keyframes),
                                            reader.max_num_boxes)
  assert cache.labels.shape[-1] == (
      config.model.video_faster_rcnn.action_head.num_classes)
  assert cache.endpoint == 'Mixed_4f'
  # 64 x 64 frames at stride 16, 4 frames flattened over time.
  assert cache.scene_maps.shape[1:3] == (4, 4)
  first = relation_readout.extract(config, run['run_dir'] + '/ckpt-1',
                                   run['val'], max_keyframes=1)
  assert first.scene_maps.shape[0] == 1
  # Equal up to the CPU kernels' run-to-run rounding.
  np.testing.assert_allclose(first.actor_features[0],
                             cache.actor_features[0], rtol=1e-4, atol=1e-5)


def _tool(run, output_dir, *extra):
  return subprocess.run(
      [sys.executable, _TOOL, '--run_dir', run['run_dir'],
       '--steps', '4', '--eval_every', '2', '--batch_size', '4',
       '--output_dir', output_dir, *extra],
      env=fx.env(), capture_output=True, text=True, cwd=fx.REPO)


def test_the_tool_writes_both_readouts(run, tmp_path):
  output = str(tmp_path / 'out')
  result = _tool(run, output, '--partner_offsets_px=-20,20',
                 '--optimizer=adam', '--noactor_feature_in_g_theta')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(output, 'readout.json')) as f:
    summary = json.load(f)
  assert [p['step'] for p in summary['relation_module']['curve']] == [2, 4]
  assert summary['relation_module']['name'] == 'acrn'
  assert summary['relation_module']['actor_feature_in_g_theta'] is False
  assert summary['offsets'] == pytest.approx([-20 / 64, 20 / 64])
  assert summary['num_test_actors'] == len(
      _annotated_boxes(run['label_map'], 'val'))
  assert set(summary['linear']) == {'actor_only', 'with_scene',
                                    'actor_only_relation_map',
                                    'with_scene_relation_map'}
  with open(os.path.join(output, 'readout.md')) as f:
    text = f.read()
  assert '| f_a + F at the actor and the offsets |' in text
  assert 'Adam, constant learning rate 0.02' in text
  assert '(scene scale 1; g_theta without f_a)' in text
  assert os.path.getsize(os.path.join(output, 'readout.png')) > 1000
  assert not [n for n in os.listdir(output) if 'tmp' in n]


def test_cached_features_are_reused(run, tmp_path):
  cache_dir = str(tmp_path / 'cache')
  first = _tool(run, str(tmp_path / 'a'), '--partner_offsets_px=20',
                '--cache_dir', cache_dir)
  assert first.returncode == 0, first.stderr[-3000:]
  assert sorted(os.listdir(cache_dir)) == ['test.npz', 'train.npz']
  assert 'read from' not in first.stderr
  second = _tool(run, str(tmp_path / 'b'), '--partner_offsets_px=20',
                 '--cache_dir', cache_dir)
  assert second.returncode == 0, second.stderr[-3000:]
  assert second.stderr.count(f' read from {cache_dir}/') == 2
  with open(os.path.join(tmp_path, 'a', 'readout.json')) as f:
    a = json.load(f)
  with open(os.path.join(tmp_path, 'b', 'readout.json')) as f:
    b = json.load(f)
  assert a['num_train_actors'] == b['num_train_actors']
  for key, aps in a['linear'].items():
    if isinstance(aps, dict):
      assert {c: v for c, v in aps.items() if v is not None} == pytest.approx(
          {c: v for c, v in b['linear'][key].items() if v is not None},
          abs=0.01)


def test_offsets_of_a_dataset_without_a_stage_are_asked_for(run, tmp_path):
  result = _tool(run, str(tmp_path / 'out'))
  assert result.returncode != 0
  assert ("dataset_info.json: config.layout is 'scatter', not 'stage'"
          in result.stderr)
  assert not os.path.exists(tmp_path / 'out')


def test_a_negative_scene_scale_is_refused(run, tmp_path):
  result = _tool(run, str(tmp_path / 'out'), '--partner_offsets_px=20',
                 '--scene_scale=-1')
  assert result.returncode != 0
  assert '--scene_scale must be > 0 (or 0: keep), got -1.0' in result.stderr
