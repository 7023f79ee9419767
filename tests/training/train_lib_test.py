"""Tests of model_main's jobs on a tiny synthetic dataset."""

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import input_validation
from acrn_tf.core import checkpoint_paths
from acrn_tf.protos import train_pb2
from acrn_tf.training import train_lib
from acrn_tf.training import trainer
from tests.training import training_fixtures as fx


@pytest.fixture(scope='module')
def paths(tmp_path_factory):
  return fx.make_records(str(tmp_path_factory.mktemp('records')))


def _step(path):
  return int(tf.train.load_checkpoint(path).get_tensor(train_lib.STEP_KEY))


def test_train_resume_evaluate_and_stop_on_a_non_finite_loss(paths,
                                                             tmp_path):
  """One scenario (each job costs a model trace, so they share a model_dir)."""
  model_dir = str(tmp_path / 'model')
  config = fx.load_config(paths, num_steps=2)
  train_lib.train(config, model_dir)
  latest = tf.train.latest_checkpoint(model_dir)
  assert _step(latest) == 2
  assert os.path.exists(os.path.join(model_dir, 'pipeline.config'))
  names = [n for n, _ in tf.train.list_variables(latest)]
  # The input iterator's position and the momentum slots are saved.
  assert any(n.startswith('iterator/') for n in names)
  assert any(n.startswith('optimizer/_variables/') for n in names)

  # An evaluation job started now, in its own process as users run it,
  # evaluates ckpt-2 while a second training job continues from step 2 to 4
  # (it does not start over), then picks up ckpt-4 and stops there.
  out = str(tmp_path / 'eval_job')
  command = [sys.executable, os.path.join(fx.TOOLS, 'model_main.py'),
             '--pipeline_config_path',
             os.path.join(fx.REPO, 'configs', 'synthetic', 'acrn_tiny.config'),
             '--checkpoint_dir', model_dir, '--model_dir', out,
             '--eval_timeout', '600', '--alsologtostderr']
  for override in fx.overrides(paths, num_steps=4):
    command += ['--override', override]
  evaluator = subprocess.Popen(command, env=fx.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
  lines = []
  reader = threading.Thread(target=lambda: lines.extend(evaluator.stdout))
  reader.start()
  try:
    # Training resumes once the evaluator is busy with ckpt-2, so that it
    # has to notice ckpt-4 appearing while it works.
    deadline = time.monotonic() + 600
    while not any('Evaluating' in l and 'ckpt-2' in l for l in lines):
      assert evaluator.poll() is None, ''.join(lines)[-3000:]
      assert time.monotonic() < deadline, 'the evaluator never started'
      time.sleep(0.5)
    train_lib.train(fx.load_config(paths, num_steps=4), model_dir)
    evaluator.wait(timeout=900)
  finally:
    evaluator.kill()
    reader.join()
  output = ''.join(lines)
  assert evaluator.returncode == 0, output[-3000:]
  assert 'ckpt-4' in output
  good = tf.train.latest_checkpoint(model_dir)
  assert _step(good) == 4
  kept = tf.train.get_checkpoint_state(model_dir).all_model_checkpoint_paths
  assert [p.rsplit('-', 1)[1] for p in kept] == ['2', '4']
  tags = set()
  for path in tf.io.gfile.glob(os.path.join(model_dir, 'train', 'events.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      tags.update(v.tag for v in event.summary.value)
  assert {'Loss/total_loss', 'learning_rate', 'gradient_norm',
          'examples_per_second',
          'Loss/BoxClassifierLoss/classification'} <= tags

  # Both checkpoints were evaluated, each with its report.
  assert {'step_2', 'step_4'} <= set(os.listdir(os.path.join(out, 'eval')))
  for step in (2, 4):
    report = os.path.join(out, 'eval', f'step_{step}', 'frame_ap')
    with open(os.path.join(report, 'metrics.json')) as f:
      saved = json.load(f)
    assert saved['num_keyframes'] == 4
    assert os.path.exists(os.path.join(report, 'pr_curves.png'))
    assert os.path.exists(os.path.join(report, 'per_class_ap.csv'))
  assert train_lib.eval_steps(config) == 2
  # The evaluation job read ckpt-4 into the model it built for ckpt-2: its
  # metrics equal those of a model built for ckpt-4 alone.
  fresh = train_lib.evaluate_checkpoint(
      fx.load_config(paths, num_steps=4), good, str(tmp_path / 'fresh'))
  assert fresh['frame_ap']['mean_ap'] == pytest.approx(saved['mean_ap'],
                                                       abs=1e-6)

  # A diverging job stops with the loss terms named; step 4 stays the last.
  learning_rate = ('train_config.optimizer.momentum_optimizer.learning_rate.'
                   'cosine_decay_learning_rate.')
  diverging = fx.load_config(paths, num_steps=8, extra=[
      learning_rate + 'learning_rate_base=1e30',
      learning_rate + 'warmup_steps=0',
      'train_config.gradient_clipping_by_norm=0'])
  with pytest.raises(trainer.NonFiniteLossError,
                     match=r'non-finite training loss at steps 5-6: .*'
                     r'Loss/total_loss'):
    train_lib.train(diverging, model_dir)
  assert tf.train.latest_checkpoint(model_dir) == good


def test_zero_steps_is_refused(paths, tmp_path):
  with pytest.raises(ValueError, match='num_steps must be >= 1'):
    train_lib.train(fx.load_config(paths, num_steps=0), str(tmp_path))


def test_float16_on_a_tpu_is_refused(paths, tmp_path):
  config = fx.load_config(paths, extra=[
      'train_config.mixed_precision=MIXED_FLOAT16'])
  with pytest.raises(ValueError, match='TPUs compute in bfloat16'):
    train_lib.train(config, str(tmp_path),
                    train_lib.JobOptions(use_tpu=True))


def test_stale_batch_norm_statistics_are_warned_about(paths, tmp_path,
                                                      monkeypatch, caplog):
  # Stop right after the checks at the start of train(): only the warning
  # is under test here.
  def stop(*args, **kwargs):
    raise RuntimeError('stopped after the checks')
  monkeypatch.setattr(train_lib.distribution, 'build_strategy', stop)
  config = fx.load_config(paths, num_steps=400, extra=[
      'model.video_faster_rcnn.feature_extractor.batch_norm_decay=0.999'])
  with caplog.at_level('WARNING'), pytest.raises(RuntimeError,
                                                 match='stopped'):
    train_lib.train(config, str(tmp_path))
  assert 'batch_norm_decay <= 0.9660' in caplog.text
  caplog.clear()
  with caplog.at_level('WARNING'), pytest.raises(RuntimeError,
                                                 match='stopped'):
    train_lib.train(fx.load_config(paths, num_steps=400), str(tmp_path))
  assert 'batch_norm_decay' not in caplog.text


def _tiny_config(*overrides):
  return config_util.load_pipeline_config(
      os.path.join(fx.REPO, 'configs', 'synthetic', 'acrn_tiny.config'),
      overrides=list(overrides))


def _write_checkpoint(directory, step):
  """A checkpoint holding only the training step, as ckpt-<step>."""
  optimizer = tf.train.Checkpoint(_iterations=tf.Variable(step, tf.int64))
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(optimizer=optimizer), directory, max_to_keep=None)
  return manager.save(checkpoint_number=step)


class _FakeEvaluator:
  """Records the checkpoints it is asked to evaluate."""
  calls = []

  def __init__(self, config, output_dir, options):
    del config, output_dir, options

  def __call__(self, path):
    self.calls.append(path)
    return {'frame_ap': {'mean_ap': 1.0}}


def test_a_checkpoint_prefix_is_evaluated_once(tmp_path, monkeypatch):
  # It used to be watched as a directory: "Timed-out waiting", exit 0.
  monkeypatch.setattr(train_lib, '_CheckpointEvaluator', _FakeEvaluator)
  _FakeEvaluator.calls = []
  model_dir = str(tmp_path / 'model')
  first = _write_checkpoint(model_dir, 210)
  _write_checkpoint(model_dir, 410)
  started = time.monotonic()
  result = train_lib.evaluate_continuously(
      _tiny_config(), first, str(tmp_path / 'eval'),
      train_lib.JobOptions(eval_timeout=30))
  assert _FakeEvaluator.calls == [first]
  assert result == {'frame_ap': {'mean_ap': 1.0}}
  assert time.monotonic() - started < 10


def test_a_missing_checkpoint_is_an_error_not_a_wait(tmp_path, monkeypatch):
  monkeypatch.setattr(train_lib, '_CheckpointEvaluator', _FakeEvaluator)
  options = train_lib.JobOptions(eval_timeout=1)
  out = str(tmp_path / 'eval')
  model_dir = tmp_path / 'model'
  model_dir.mkdir()
  missing = str(model_dir / 'ckpt-210')
  with pytest.raises(checkpoint_paths.CheckpointNotFoundError,
                     match=r'--checkpoint_dir .*ckpt-210: neither a '
                     r'directory nor a checkpoint prefix'):
    train_lib.evaluate_continuously(_tiny_config(), missing, out, options)
  with pytest.raises(checkpoint_paths.CheckpointNotFoundError,
                     match=r'no checkpoint in this directory and no training '
                     r'job started there'):
    train_lib.evaluate_continuously(_tiny_config(), str(model_dir), out,
                                    options)
  # A training job has started there (its pipeline.config): waited on for
  # eval_timeout, then an error as well.
  config_util.save_pipeline_config(_tiny_config(), str(model_dir))
  with pytest.raises(checkpoint_paths.CheckpointNotFoundError,
                     match=r'no checkpoint appeared in 1 s'):
    train_lib.evaluate_continuously(_tiny_config(), str(model_dir), out,
                                    options)


def test_a_finished_training_is_left_without_building_anything(
    tmp_path, monkeypatch, caplog):
  # Restoring it into a model that runs no step printed a screen of
  # warnings about unrestored optimizer slots.
  def refuse(*args, **kwargs):
    raise AssertionError('built something')
  monkeypatch.setattr(train_lib.distribution, 'build_strategy', refuse)
  model_dir = str(tmp_path / 'model')
  latest = _write_checkpoint(model_dir, 300)
  with caplog.at_level('INFO', logger='absl'):
    assert train_lib.train(_tiny_config(), model_dir) == {}
  assert (f'Nothing to train: {latest} is at step 300 and '
          'train_config.num_steps is 300') in caplog.text


def test_a_clip_other_than_the_training_jobs_is_refused(tmp_path):
  model_dir = str(tmp_path / 'model')
  checkpoint = _write_checkpoint(model_dir, 10)
  input_validation.check_trained_clip(_tiny_config(), 'x.config', checkpoint)
  config_util.save_pipeline_config(_tiny_config(), model_dir)
  given = _tiny_config('train_input_reader.frame_stride=5',
                       'eval_input_reader[0].frame_stride=5')
  with pytest.raises(config_util.ConfigError,
                     match=r'^given\.config: train_input_reader\.frame_stride '
                     r'is 5 but the model was trained with .* 1 \(.*model/'
                     r'pipeline\.config\)'):
    input_validation.check_trained_clip(given, 'given.config', checkpoint)


def test_resuming_with_another_clip_is_refused(tmp_path, monkeypatch):
  def refuse(*args, **kwargs):
    raise AssertionError('built something')
  monkeypatch.setattr(train_lib.distribution, 'build_strategy', refuse)
  model_dir = str(tmp_path / 'model')
  _write_checkpoint(model_dir, 100)
  config_util.save_pipeline_config(_tiny_config(), model_dir)
  given = _tiny_config('train_input_reader.frames_per_clip=4',
                       'eval_input_reader[0].frames_per_clip=4')
  with pytest.raises(config_util.ConfigError,
                     match=r'train_input_reader\.frames_per_clip is 4 but the '
                     r'model was trained with train_input_reader\.'
                     r'frames_per_clip 8'):
    train_lib.train(given, model_dir,
                    train_lib.JobOptions(config_path='given.config'))


def test_the_training_job_keeps_frozen_parts_as_they_are(paths, tmp_path):
  # train_config.frozen_part reaches the job: between its checkpoints at
  # steps 2 and 4 no variable of S3D-G changes (weights nor batch-norm
  # statistics), while the classifier trains.
  model_dir = str(tmp_path / 'model')
  config = fx.load_config(paths, num_steps=4)
  config.train_config.frozen_part.append(
      train_pb2.TrainConfig.FEATURE_EXTRACTOR)
  train_lib.train(config, model_dir)
  first = tf.train.load_checkpoint(os.path.join(model_dir, 'ckpt-2'))
  last = tf.train.load_checkpoint(os.path.join(model_dir, 'ckpt-4'))
  names = [n for n, _ in tf.train.list_variables(model_dir)]
  frozen = [n for n in names if n.startswith('model/feature_extractor/')]
  trained = [n for n in names if n.startswith('model/classifier/')]
  assert frozen and trained, names
  for name in frozen:
    np.testing.assert_array_equal(last.get_tensor(name),
                                  first.get_tensor(name), err_msg=name)
  assert any(not np.array_equal(last.get_tensor(n), first.get_tensor(n))
             for n in trained)
