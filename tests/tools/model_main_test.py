"""model_main as users run it: two workers on localhost; train + eval jobs."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.training import training_fixtures as fx

_TOOL = os.path.join(fx.TOOLS, 'model_main.py')


@pytest.fixture(scope='module')
def paths(tmp_path_factory):
  return fx.make_records(str(tmp_path_factory.mktemp('records')))


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('localhost', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _command(paths, model_dir, num_steps, *extra):
  # The Base-Model: synchronising workers does not depend on the relation
  # module, and two processes tracing the smaller model share 2 cores better.
  command = [sys.executable, _TOOL, '--pipeline_config_path',
             os.path.join(fx.REPO, 'configs', 'synthetic', 'base_tiny.config'),
             '--model_dir', model_dir]
  for override in fx.overrides(paths, num_steps):
    command += ['--override', override]
  return command + list(extra)


def _model_variables(checkpoint):
  reader = tf.train.load_checkpoint(checkpoint)
  return {name: reader.get_tensor(name)
          for name, _ in tf.train.list_variables(checkpoint)
          if name.startswith('model/')}


def test_two_workers_train_in_sync_and_only_the_chief_keeps_checkpoints(
    paths, tmp_path):
  model_dir = str(tmp_path / 'model')
  ports = _free_ports(2)
  cluster = {'worker': [f'localhost:{p}' for p in ports]}
  processes = []
  for index in range(2):
    env = fx.env()
    env['TF_CONFIG'] = json.dumps({'cluster': cluster,
                                   'task': {'type': 'worker',
                                            'index': index}})
    processes.append(subprocess.Popen(
        _command(paths, model_dir, 2, '--num_workers', '2'), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  outputs = [p.communicate(timeout=600)[0] for p in processes]
  for process, output in zip(processes, outputs):
    assert process.returncode == 0, output[-3000:]
  assert 'MultiWorkerMirroredStrategy over 2 workers' in outputs[0]
  chief = tf.train.latest_checkpoint(model_dir)
  other = tf.train.latest_checkpoint(
      os.path.join(model_dir, 'workers', 'worker_1'))
  assert chief.endswith('ckpt-2') and other.endswith('ckpt-2')
  chief_values, other_values = _model_variables(chief), _model_variables(other)
  assert chief_values.keys() == other_values.keys()
  for name, value in chief_values.items():
    np.testing.assert_array_equal(other_values[name], value, err_msg=name)


def test_a_missing_checkpoint_exits_with_an_error(tmp_path):
  # It used to wait --eval_timeout seconds, print "Timed-out waiting" and
  # exit 0.
  (tmp_path / 'model').mkdir()
  command = [sys.executable, _TOOL, '--pipeline_config_path',
             os.path.join(fx.REPO, 'configs', 'synthetic', 'base_tiny.config'),
             '--model_dir', str(tmp_path / 'eval'), '--eval_timeout', '1',
             '--checkpoint_dir', str(tmp_path / 'model' / 'ckpt-210')]
  result = subprocess.run(command, env=fx.env(), capture_output=True,
                          text=True, timeout=300)
  assert result.returncode != 0
  assert ('model_main: --checkpoint_dir ' in result.stderr and
          'ckpt-210: neither a directory nor a checkpoint prefix' in
          result.stderr), result.stderr[-2000:]
