"""accuracy_runs: stale run directories, results on disk, running jobs.

Training and evaluating a real run is tested end to end in accuracy_test.
"""

import json
import os

from google.protobuf import text_format
import pytest

from acrn_tf.builders import config_util
from benchmarks import accuracy_runs

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_CONFIG = os.path.join(_REPO, 'configs', 'synthetic', 'acrn_tiny.config')


def _config(num_steps=10):
  config = config_util.read_pipeline_config(_CONFIG)
  config.train_config.num_steps = num_steps
  return config


def test_check_run_dir_accepts_a_new_or_identical_run(tmp_path):
  run_dir = str(tmp_path / 'run')
  accuracy_runs.check_run_dir(run_dir, _config())  # No directory yet.
  os.makedirs(run_dir)
  accuracy_runs.check_run_dir(run_dir, _config())  # No pipeline.config.
  config_util.save_pipeline_config(_config(), run_dir)
  accuracy_runs.check_run_dir(run_dir, _config())


def test_check_run_dir_names_the_first_differing_line(tmp_path):
  run_dir = str(tmp_path / 'run')
  config_util.save_pipeline_config(_config(10), run_dir)
  with pytest.raises(accuracy_runs.StaleRunError) as error:
    accuracy_runs.check_run_dir(run_dir, _config(20))
  message = str(error.value)
  path = os.path.join(run_dir, 'pipeline.config')
  assert message.startswith(f'{path} differs from the config this budget '
                            'gives the run at line ')
  assert "'num_steps: 10', now 'num_steps: 20'" in message
  # The line number is the one in the saved text.
  number = int(message.split(' at line ')[1].split(':')[0])
  saved = config_util.read_pipeline_config(path)
  assert text_format.MessageToString(saved).splitlines()[
      number - 1].strip() == 'num_steps: 10'
  assert isinstance(error.value, ValueError)


def test_load_result_and_points(tmp_path):
  assert accuracy_runs.load_result(str(tmp_path)) is None
  with open(tmp_path / accuracy_runs.RESULT_JSON, 'w') as f:
    json.dump({'name': 'x', 'frame_ap': 0.12345}, f)
  assert accuracy_runs.load_result(str(tmp_path)) == {'name': 'x',
                                                      'frame_ap': 0.12345}
  assert accuracy_runs.points(0.12345) == '12.35'
  assert accuracy_runs.points(None) == 'undefined'


def test_train_jobs_in_process_keeps_order_and_reports(tmp_path,
                                                       monkeypatch):
  calls = []

  def fake_train_and_evaluate(fields, config, run_dir):
    calls.append((dict(fields), config.train_config.num_steps, run_dir))
    return dict(fields, frame_ap=0.5 if fields['name'] == 'a' else None,
                train_seconds=3.4, eval_seconds=1.2)

  monkeypatch.setattr(accuracy_runs, 'train_and_evaluate',
                      fake_train_and_evaluate)
  jobs = [accuracy_runs.Job('[1/2]', {'name': 'a'}, _config(5),
                            str(tmp_path / 'a')),
          accuracy_runs.Job('[2/2]', {'name': 'b'}, _config(7),
                            str(tmp_path / 'b'))]
  lines = []
  results = accuracy_runs.train_jobs(jobs, 1, lines.append, started=0.0,
                                     in_process=True)
  assert [r['name'] for r in results] == ['a', 'b']
  assert [(c[0]['name'], c[1]) for c in calls] == [('a', 5), ('b', 7)]
  assert lines[0] == '[1/2] a: training 5 steps ...'
  assert lines[1].startswith('[1/2] a: frame-AP 50.00 (train 3 s, eval 1 s; ')
  assert lines[2] == '[2/2] b: training 7 steps ...'
  assert lines[3].startswith('[2/2] b: frame-AP undefined (')
  assert len(lines) == 4
