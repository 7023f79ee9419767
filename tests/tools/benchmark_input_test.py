"""benchmark_input: the CLI end to end on a tiny record set.

The tool runs as a subprocess, as users run it (and so that its absl flags
never meet another tool's in the test process).
"""

import os
import re
import subprocess
import sys

import pytest

from tests.data.input import sequence_example_fixtures as fx

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_TOOL = os.path.join(_REPO, 'tools', 'benchmark_input.py')


def _run_tool(args, cwd):
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  return subprocess.run([sys.executable, _TOOL] + args, cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300,
                        check=False)


def _stat(stdout, name):
  match = re.search(rf'^{re.escape(name)}: ([0-9.]+)$', stdout, re.MULTILINE)
  assert match, stdout
  return float(match.group(1))


def test_records_and_flags_end_to_end(tmp_path):
  pattern = fx.write_records(str(tmp_path / 'records'), with_flow=True)
  result = _run_tool(['--records', pattern, '--num_classes', '6',
                      '--frames_per_clip', '4', '--image_size', '16x24',
                      '--batch_size', '2', '--num_batches', '7',
                      '--warmup_batches', '2', '--use_flow'], str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert 'batch 2 x 4 frames of 16x24 + flow' in result.stdout
  assert 'timed: 7 batches, 14 examples in ' in result.stdout
  assert _stat(result.stdout, 'examples/s') > 0
  assert _stat(result.stdout, 'examples/s') == pytest.approx(
      2 * _stat(result.stdout, 'batches/s'), rel=0.02)


def test_pipeline_config_end_to_end(tmp_path):
  fx.write_records(str(tmp_path / 'records'), num_shards=1)
  config = tmp_path / 'pipeline.config'
  config.write_text(
      'train_config { batch_size: 3 }\n'
      'train_input_reader {\n'
      '  tf_record_input_reader { input_path: "records/train-*" }\n'
      '  frames_per_clip: 2 image_height: 16 image_width: 16\n'
      '  augmentation { random_horizontal_flip: true }\n'
      '}\n', encoding='utf-8')
  # Relative paths are relative to the working directory.
  result = _run_tool(['--pipeline_config_path', str(config), '--num_classes',
                      '6', '--num_batches', '4', '--warmup_batches', '1'],
                     str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert 'batch 3 x 2 frames of 16x16' in result.stdout
  assert 'timed: 4 batches, 12 examples in ' in result.stdout
