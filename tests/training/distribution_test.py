"""Tests of the strategy choice."""

import json

import pytest
import tensorflow as tf

from acrn_tf.training import distribution


def _tf_config(workers, chief=False):
  cluster = {'worker': [f'localhost:{2000 + i}' for i in range(workers)]}
  if chief:
    cluster['chief'] = ['localhost:1999']
  return json.dumps({'cluster': cluster,
                     'task': {'type': 'worker', 'index': 0}})


def test_workers_are_counted_from_tf_config():
  assert distribution.num_workers_in_tf_config('') == 0
  assert distribution.num_workers_in_tf_config(_tf_config(2)) == 2
  assert distribution.num_workers_in_tf_config(_tf_config(2, True)) == 3


def test_bad_tf_config_is_refused():
  with pytest.raises(ValueError, match='TF_CONFIG is not valid JSON'):
    distribution.num_workers_in_tf_config('{cluster')
  with pytest.raises(ValueError, match='"cluster" must be an object'):
    distribution.num_workers_in_tf_config('{"cluster": [1]}')


def test_one_device_gets_the_default_strategy(monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  strategy = distribution.build_strategy()
  assert strategy is tf.distribute.get_strategy()
  assert distribution.is_chief(strategy)
  assert distribution.worker_model_dir('/m', strategy) == '/m'


def test_num_workers_must_match_tf_config(monkeypatch):
  monkeypatch.setenv('TF_CONFIG', _tf_config(2))
  with pytest.raises(ValueError, match='--num_workers=3 but TF_CONFIG names 2'):
    distribution.build_strategy(num_workers=3)
