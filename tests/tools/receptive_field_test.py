"""receptive_field: the CLI on the synthetic config, as users run it."""

import os
import subprocess
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_TOOL = os.path.join(_REPO, 'tools', 'receptive_field.py')
_CONFIG = os.path.join(_REPO, 'configs', 'synthetic', 'acrn_tiny.config')


def _run_tool(args):
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  return subprocess.run([sys.executable, _TOOL] + args, cwd=_REPO, env=env,
                        capture_output=True, text=True, timeout=300,
                        check=False)


def test_mixed_4f_of_the_tiny_config_with_and_without_gating():
  result = _run_tool(['--pipeline_config_path', _CONFIG, '--frames', '4',
                      '--input_height', '320', '--input_width', '320'])
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[0].startswith(f'S3D-G of {_CONFIG} (RGB tower, depth '
                             'multiplier 0.25, separable temporal convs from '
                             'Mixed_4b, gating from Mixed_4b)')
  assert lines[0].endswith('input 4 x 320 x 320:')
  assert lines[1] == ('  Mixed_4f unit (0, 10, 10) of a (1, 20, 20) map, as '
                      'configured: frames 0..3, rows 0..319, columns 0..319: '
                      '320 x 320 px (the whole input), 4 of 4 frames')
  assert lines[2].startswith('  Mixed_4f unit (0, 10, 10) of a (1, 20, 20) '
                             'map, without gating: frames 0..3, rows ')
  assert ': 235 x 235 px of 320 x 320, 4 of 4 frames' in lines[2]
  assert lines[3] == "The config's train clips are 8 x 96 x 128."


def test_bad_flags():
  result = _run_tool(['--pipeline_config_path', _CONFIG, '--endpoint',
                      'Mixed_9z'])
  assert result.returncode == 1
  assert "--endpoint: 'Mixed_9z' is not an S3D-G endpoint" in result.stderr
  result = _run_tool(['--pipeline_config_path', _CONFIG, '--frames', '0'])
  assert result.returncode == 1
  assert '--frames must be >= 1, got 0' in result.stderr
  result = _run_tool(['--pipeline_config_path', '/nonexistent.config'])
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      '/nonexistent.config: cannot read the pipeline config: No such file or '
      'directory')
