"""relation_readout: columns, inputs and AP by hand; both readouts on a cache
built by hand where only what lies 3 columns right of the actor decides.

`extract` runs on a tiny model and its records in
tests/tools/relation_readout_test.py.
"""

import os

import numpy as np
import pytest

from acrn_tf.builders import config_util
from benchmarks import relation_readout as readout

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_HEIGHT, _WIDTH, _OFFSET = 2, 16, 3
_CLASSES = ('right_is_red', 'always')


def _cache(rng, num_keyframes):
  """One actor per keyframe, two objects 6 columns apart, one 3 right of it.

  Scene channels: red, blue, background. The object 3 columns right of the
  actor decides label 0 (it is red); the other lies 3 columns left of the
  actor or 3 beyond the first, in the other colour. The pair's
  left column is uniform over the same range in both cases, so neither F
  (two objects 6 apart, colours in either order) nor the box alone says
  which object is right of the actor: only both together. f_a is noise.
  Label 1 is always on (AP 100 anywhere).
  """
  maps = np.zeros((num_keyframes, _HEIGHT, _WIDTH, 3), np.float32)
  maps[..., 2] = 1.0
  left = rng.integers(_OFFSET, _WIDTH - 2 * _OFFSET, num_keyframes)
  beyond = rng.random(num_keyframes) < 0.5
  columns = np.where(beyond, left - _OFFSET, left + _OFFSET)
  decider_colour = rng.integers(0, 2, num_keyframes)
  colour = np.eye(3, dtype=np.float32)
  for k in range(num_keyframes):
    decider = columns[k] + _OFFSET
    other = decider + 2 * _OFFSET if beyond[k] else columns[k] - _OFFSET
    maps[k, :, decider] = colour[decider_colour[k]]
    maps[k, :, other] = colour[1 - decider_colour[k]]
  maps += 0.05 * rng.standard_normal(maps.shape).astype(np.float32)
  boxes = np.zeros((num_keyframes, 2, 4), np.float32)
  boxes[:, 0] = np.stack([np.full(num_keyframes, 0.1), columns / _WIDTH,
                          np.full(num_keyframes, 0.9),
                          (columns + 1) / _WIDTH], -1)
  labels = np.zeros((num_keyframes, 2, 2), np.float32)
  labels[:, 0, 0] = decider_colour == 0
  labels[:, 0, 1] = 1.0
  valid = np.zeros((num_keyframes, 2), bool)
  valid[:, 0] = True   # slot 1 is padding
  return readout.CachedFeatures(
      scene_maps=maps,
      actor_features=rng.standard_normal((num_keyframes, 2, 8)).astype(
          np.float32),
      boxes=boxes, labels=labels, valid=valid, endpoint='Mixed_4f')


def test_offset_columns_by_hand():
  boxes = np.array([[0.0, 0.45, 1.0, 0.55], [0.0, 0.0, 1.0, 0.1]])
  columns = readout.offset_columns(boxes, 10, [-0.2, 0.0, 0.2, 0.6])
  # Centres 0.5 and 0.05: places 0.3, 0.5, 0.7, 1.1 and -0.15, 0.05, ...
  np.testing.assert_array_equal(columns, [[3, 5, 7, -1], [-1, 0, 2, 6]])


def test_readout_inputs_are_f_a_then_column_means():
  cache = _cache(np.random.default_rng(0), 3)
  inputs = readout.readout_inputs(cache, [_OFFSET / _WIDTH])
  assert inputs.shape == (3, 8 + 3 + 3)   # padding slots left out
  np.testing.assert_array_equal(inputs[:, :8], cache.actor_features[:, 0])
  column = int(cache.boxes[1, 0, 1] * _WIDTH + 0.5)
  np.testing.assert_allclose(inputs[1, 8:11],
                             cache.scene_maps[1, :, column].mean(0),
                             rtol=1e-6)
  np.testing.assert_allclose(inputs[1, 11:],
                             cache.scene_maps[1, :, column + _OFFSET].mean(0),
                             rtol=1e-6)
  assert readout.readout_inputs(cache, [], with_scene=False).shape == (3, 8)


def test_outside_the_map_reads_zeros():
  cache = _cache(np.random.default_rng(0), 2)
  inputs = readout.readout_inputs(cache, [2.0])
  np.testing.assert_array_equal(inputs[:, -3:], 0.0)


def test_class_aps_by_hand():
  scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.3]])
  labels = np.array([[1, 0], [0, 0], [1, 0]])
  aps = readout.class_aps(scores, labels, ['a', 'b'])
  # Ranked 1, 0, 1: precision 1 at recall 1/2, 2/3 at recall 1.
  assert aps['a'] == pytest.approx(100 * (0.5 * 1 + 0.5 * 2 / 3))
  assert aps['b'] is None
  with pytest.raises(ValueError, match='do not agree'):
    readout.class_aps(scores, labels, ['a'])


def test_relation_map_is_the_mean_of_the_present_relation_classes():
  assert readout.relation_map({'pass': 60.0, 'look_at': 80.0, 'x': 0.0},
                              ['pass', 'look_at']) == 70.0
  assert readout.relation_map({'pass': None, 'look_at': 80.0},
                              ['pass', 'look_at']) == 80.0
  assert readout.relation_map({'x': 1.0}, ['pass']) is None


def test_linear_readout_finds_the_partner_only_with_f():
  rng = np.random.default_rng(0)
  train, test = _cache(rng, 400), _cache(rng, 200)
  offsets = [-_OFFSET / _WIDTH, _OFFSET / _WIDTH]
  alone = readout.linear_readout(train, test, _CLASSES, offsets,
                                 with_scene=False, steps=300,
                                 learning_rate=1e-2)
  with_scene = readout.linear_readout(train, test, _CLASSES, offsets,
                                      steps=300, learning_rate=1e-2)
  # Chance AP is the share of positives, about 50 %.
  assert alone['right_is_red'] < 65.0
  assert with_scene['right_is_red'] > 95.0
  assert alone['always'] == with_scene['always'] == 100.0


def _acrn_config():
  config = config_util.read_pipeline_config(
      os.path.join(_REPO, 'configs', 'synthetic', 'acrn_tiny.config'))
  config.model.video_faster_rcnn.feature_extractor.depth_multiplier = 0.125
  return config


def test_relation_module_readout_learns_the_partner():
  rng = np.random.default_rng(1)
  train, test = _cache(rng, 1000), _cache(rng, 200)
  curve = readout.relation_module_readout(
      train, test, _acrn_config(), _CLASSES, steps=600, batch_size=32,
      learning_rate=5e-3, optimizer='adam', eval_every=300)
  assert [p['step'] for p in curve] == [300, 600]
  # Measured: 100 %; with F zeroed 53 %, with the boxes zeroed 51 %.
  assert curve[-1]['ap']['right_is_red'] > 95.0
  assert curve[-1]['loss'] < curve[0]['loss']


def test_an_unknown_optimizer_is_refused():
  cache = _cache(np.random.default_rng(0), 4)
  with pytest.raises(ValueError, match="optimizer 'sgd': expected one of "
                     r"\['adam', 'momentum'\]"):
    readout.relation_module_readout(cache, cache, _acrn_config(), _CLASSES,
                                    steps=1, optimizer='sgd')


def test_a_module_without_relation_features_is_refused():
  config = _acrn_config()
  config.model.video_faster_rcnn.relation_module.resize_concat.SetInParent()
  cache = _cache(np.random.default_rng(0), 4)
  with pytest.raises(ValueError, match="'resize_concat' adds no relation"):
    readout.relation_module_readout(cache, cache, config, _CLASSES, steps=1)


def test_a_scene_endpoint_the_cache_lacks_is_refused():
  cache = _cache(np.random.default_rng(0), 4)
  cache.endpoint = 'Mixed_3c'
  with pytest.raises(ValueError, match=r"\['Mixed_4f'\]; the cache holds "
                     'only Mixed_3c'):
    readout.relation_module_readout(cache, cache, _acrn_config(), _CLASSES,
                                    steps=1)


def test_a_saved_cache_is_read_back_only_for_its_source(tmp_path):
  cache = _cache(np.random.default_rng(0), 5)
  path = str(tmp_path / 'train.npz')
  source = {'checkpoint': 'run/ckpt-5', 'records': 'train-*'}
  readout.save_cache(path, cache, source)
  assert os.listdir(tmp_path) == ['train.npz']
  loaded = readout.load_cache(path, dict(source))
  for field in ('scene_maps', 'actor_features', 'boxes', 'labels', 'valid'):
    np.testing.assert_array_equal(getattr(loaded, field),
                                  getattr(cache, field))
  assert loaded.endpoint == 'Mixed_4f'
  assert readout.load_cache(path, dict(source, checkpoint='run/ckpt-6')) is (
      None)
  assert readout.load_cache(str(tmp_path / 'none.npz'), source) is None


@pytest.mark.parametrize('name', ['steps', 'batch_size', 'eval_every'])
def test_counts_below_one_are_refused(name):
  cache = _cache(np.random.default_rng(0), 4)
  with pytest.raises(ValueError, match=f'{name} must be >= 1, got 0'):
    readout.relation_module_readout(cache, cache, _acrn_config(), _CLASSES,
                                    **{name: 0})
