"""A training job killed with SIGKILL and restarted ends with the weights of
an uninterrupted job.

Both jobs run `tools/model_main.py` as users do, on the tiny synthetic
records, with the same seeds. The killed job is stopped hard once its step-2
checkpoint is complete and restarted; it must resume from that checkpoint
(model, optimizer, step and input iterator) and, because every random draw
of a training step is keyed on (train_config.seed, global step), end with
exactly the same variables as the job that was never stopped. With
use_xla the same holds, bit for bit: both jobs compile the same step into
the same code, whose random draws come from the same seeds (XLA's own
Philox stream, the same in every process). XLA jobs run without
train_config.deterministic (TensorFlow's op determinism has no
deterministic XLA MaxPool gradient; config_validation refuses the two
together): the compiled code is deterministic on its own.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.training import train_lib
from tests.training import training_fixtures as fx

_TOOL = os.path.join(fx.TOOLS, 'model_main.py')
_NUM_STEPS = 6
_KILL_AFTER_STEP = 2
_TIMEOUT_SECONDS = 600
# A serialized proto describing the saved objects, not a variable.
_OBJECT_GRAPH = '_CHECKPOINTABLE_OBJECT_GRAPH'
# Same seeds and an input order that does not depend on thread timing: an
# unseeded input reader draws a fresh seed in every process by design.
_DETERMINISTIC = ['train_config.deterministic=true',
                  'train_input_reader.deterministic=true',
                  'train_input_reader.seed=5',
                  # Dropout draws from the step seed too.
                  'model.video_faster_rcnn.action_head.'
                  'dropout_keep_probability=0.5']


@pytest.fixture(scope='module')
def paths(tmp_path_factory):
  return fx.make_records(str(tmp_path_factory.mktemp('records')))


def _command(paths, model_dir, use_xla):
  command = [sys.executable, _TOOL, '--pipeline_config_path',
             os.path.join(fx.REPO, 'configs', 'synthetic', 'base_tiny.config'),
             '--model_dir', model_dir]
  overrides = fx.overrides(paths, _NUM_STEPS) + _DETERMINISTIC + [
      f'model.video_faster_rcnn.use_xla={str(use_xla).lower()}',
      f'train_config.deterministic={str(not use_xla).lower()}']
  for override in overrides:
    command += ['--override', override]
  return command


def _start(paths, model_dir, log_path, use_xla):
  log = open(log_path, 'w')  # pylint: disable=consider-using-with
  process = subprocess.Popen(_command(paths, model_dir, use_xla),
                             env=fx.env(),
                             stdout=log, stderr=subprocess.STDOUT)
  process.log_file = log
  return process


def _finish(process, log_path):
  try:
    process.wait(timeout=_TIMEOUT_SECONDS)
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()
    process.log_file.close()
  with open(log_path) as f:
    output = f.read()
  assert process.returncode == 0, output[-3000:]
  return output


def _step(checkpoint):
  return int(tf.train.load_checkpoint(checkpoint).get_tensor(
      train_lib.STEP_KEY))


def _variables(checkpoint):
  """Every variable of a checkpoint (not the object graph's metadata, nor
  the input iterator's opaque state)."""
  reader = tf.train.load_checkpoint(checkpoint)
  return {name: reader.get_tensor(name)
          for name, dtype in reader.get_variable_to_dtype_map().items()
          if dtype != tf.variant and name != _OBJECT_GRAPH}


def _kill_after_checkpoint(process, model_dir, step):
  """SIGKILLs `process` once model_dir's latest checkpoint is at `step`.

  Returns the latest checkpoint's step when the process was killed.
  """
  deadline = time.time() + _TIMEOUT_SECONDS
  while time.time() < deadline:
    if process.poll() is not None:
      raise AssertionError(f'the job ended (code {process.returncode}) '
                           f'before its step-{step} checkpoint')
    # The checkpoint state file names a checkpoint once it is complete.
    latest = tf.train.latest_checkpoint(model_dir)
    if latest is not None and _step(latest) >= step:
      os.kill(process.pid, signal.SIGKILL)
      process.wait()
      process.log_file.close()
      return _step(tf.train.latest_checkpoint(model_dir))
    time.sleep(0.2)
  process.kill()
  raise AssertionError(f'no step-{step} checkpoint in {_TIMEOUT_SECONDS} s')


@pytest.mark.parametrize('use_xla', [False, True])
def test_killed_and_resumed_job_ends_with_the_uninterrupted_weights(
    paths, tmp_path, use_xla):
  dir_a, dir_b = str(tmp_path / 'a'), str(tmp_path / 'b')
  # Both jobs start together (the machine's cores are shared either way).
  job_a = _start(paths, dir_a, str(tmp_path / 'a.log'), use_xla)
  job_b = _start(paths, dir_b, str(tmp_path / 'b_killed.log'), use_xla)
  killed_at = _kill_after_checkpoint(job_b, dir_b, _KILL_AFTER_STEP)
  assert job_b.returncode == -signal.SIGKILL
  assert killed_at < _NUM_STEPS

  resumed = _start(paths, dir_b, str(tmp_path / 'b_resumed.log'), use_xla)
  resumed_log = _finish(resumed, str(tmp_path / 'b_resumed.log'))
  _finish(job_a, str(tmp_path / 'a.log'))
  assert f'at step {killed_at}.' in resumed_log
  assert 'Resumed from' in resumed_log

  final_a = tf.train.latest_checkpoint(dir_a)
  final_b = tf.train.latest_checkpoint(dir_b)
  assert _step(final_a) == _step(final_b) == _NUM_STEPS
  values_a, values_b = _variables(final_a), _variables(final_b)
  assert values_a.keys() == values_b.keys()
  assert any(name.startswith('model/') for name in values_a)
  # Every variable (model, optimizer slots, step) is bit for bit equal. The
  # iterator's state is a serialized variant: its position is checked by
  # the equal weights (another batch would give other gradients).
  different = [name for name in values_a
               if not np.array_equal(values_a[name], values_b[name])]
  assert not different, different
