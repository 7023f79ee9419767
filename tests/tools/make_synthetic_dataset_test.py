"""make_synthetic_dataset: the CLI end to end and its flag errors.

The tool runs as a subprocess, as users run it (and so that its absl flags
never meet another tool's in the test process).
"""

import json
import os
import subprocess
import sys

import pytest

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_TOOL = os.path.join(_REPO, 'tools', 'make_synthetic_dataset.py')


def test_cli_writes_the_tiny_dataset_and_preview(tmp_path):
  output_dir = str(tmp_path / 'synthetic_tiny')
  preview = str(tmp_path / 'preview.png')
  # Run from elsewhere, without PYTHONPATH: the tool finds the package.
  result = _run_tool(['--output_dir', output_dir, '--preset', 'tiny',
                      '--write_preview_png', preview], str(tmp_path))
  assert result.returncode == 0, result.stderr
  with open(os.path.join(output_dir, 'annotations',
                         'dataset_info.json')) as f:
    info = json.load(f)
  assert len(os.listdir(os.path.join(output_dir, 'videos'))) == 40
  assert os.path.getsize(preview) > 10000
  # The summary table: a header and one line per split with its counts.
  lines = result.stdout.splitlines()
  header = next(i for i, l in enumerate(lines) if l.split()[:4] == [
      'split', 'videos', 'keyframes', 'boxes'])
  assert lines[header].split()[4:] == [
      'throw', 'catch', 'hold', 'pass', 'look_at', 'idle']
  for offset, split in enumerate(('train', 'val', 'test')):
    counts = info['splits'][split]
    expected = [split, str(counts['num_videos']),
                str(counts['num_keyframes']), str(counts['num_boxes'])] + [
                    str(v) for v in counts['boxes_per_class'].values()]
    assert lines[header + 1 + offset].split() == expected
  # Progress per video on stderr.
  assert '24/24 train_00023' in result.stderr
  assert '8/8 test_00007' in result.stderr


def _run_tool(args, cwd):
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  return subprocess.run([sys.executable, _TOOL] + args, cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=120,
                        check=False)


def test_overrides(tmp_path):
  result = _run_tool(
      [f'--output_dir={tmp_path}', '--preset=tiny', '--seed=3',
       '--num_train_videos=2', '--num_val_videos=1', '--num_test_videos=1',
       '--duration_seconds=3', '--classes=throw,catch',
       '--video_extension=.avi'], str(tmp_path))
  assert result.returncode == 0, result.stderr
  with open(tmp_path / 'annotations' / 'dataset_info.json') as f:
    info = json.load(f)
  assert info['config']['seed'] == 3
  assert info['splits']['train']['num_videos'] == 2
  assert info['video_format']['keyframe_timestamps'] == [1, 2]
  assert [c['name'] for c in info['classes']] == ['throw', 'catch']
  assert sorted(os.listdir(tmp_path / 'videos')) == [
      'test_00000.avi', 'train_00000.avi', 'train_00001.avi',
      'val_00000.avi']
  assert 'split  videos  keyframes  boxes  throw  catch' in result.stdout


@pytest.mark.parametrize('args,message', [
    (['--preset=tiny'], '--output_dir is required'),
    (['--output_dir=out', '--min_actors=1'], 'min_actors = 1: expected >= 2'),
    (['--output_dir=out', '--classes=throw,jump'], "unknown: ['jump']"),
])
def test_bad_flags_exit_with_a_message(tmp_path, args, message):
  result = _run_tool(args, str(tmp_path))
  assert result.returncode != 0
  assert message in result.stderr
  assert os.listdir(tmp_path) == []
