"""benchmark: the CLI end to end at tiny sizes, as users run it."""

import json
import os
import subprocess
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_TOOL = os.path.join(_REPO, 'tools', 'benchmark.py')
# The 96x128 preset and its config.
_BENCHMARK_PRESET = ['--preset', 'benchmark', '--accuracy_config',
                     os.path.join(_REPO, 'configs', 'synthetic',
                                  'acrn_tiny.config')]
_TINY = ['--conv_channels', '8', '--relation_num_actors', '4',
         '--relation_map_size', '3x4', '--relation_channels', '8,6,6']


def _run_tool(args, cwd):
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  return subprocess.run([sys.executable, _TOOL] + args, cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300,
                        check=False)


def test_speed_quick_sections_end_to_end(tmp_path):
  out = tmp_path / 'perf'
  result = _run_tool(['speed', '--quick', '--sections=conv_peak,relation',
                      '--output_dir', str(out)] + _TINY, str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert '== Convolution peak ==' in result.stdout
  assert '== Relation 1x1 stage (g_theta) ==' in result.stdout
  assert 'Speed-up (no xla): ' in result.stdout
  assert 'Speed-up (xla): ' in result.stdout
  assert sorted(os.listdir(out)) == ['conv_peak.png', 'performance.json',
                                     'performance.md', 'relation.png']
  report = json.loads((out / 'performance.json').read_text())
  assert list(report['sections']) == ['conv_peak', 'relation']
  assert report['options']['quick'] is True
  assert report['sections']['relation']['data']['map_size'] == [3, 4]
  markdown = (out / 'performance.md').read_text()
  assert ('python tools/benchmark.py speed --quick '
          '--sections=conv_peak,relation') in markdown
  for name in ('conv_peak.png', 'relation.png'):
    with open(out / name, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_usage_errors(tmp_path):
  # Each run imports TensorFlow (seconds): the dispatcher's case and seven
  # flags'.
  result = _run_tool(['sped'], str(tmp_path))
  assert result.returncode != 0
  assert ("unknown subcommand 'sped'; expected one of speed, accuracy"
          in result.stderr)
  result = _run_tool(['speed', '--sections=conv_peak,flops',
                      '--relation_map_size', '3by4'], str(tmp_path))
  assert result.returncode != 0
  assert '--sections: unknown section(s) flops' in result.stderr
  result = _run_tool(['accuracy', '--output_dir', str(tmp_path / 'out'),
                      '--accuracy_seeds', '1,1'], str(tmp_path))
  assert result.returncode != 0
  assert 'budget.seeds: repeated seeds in [1, 1]' in result.stderr
  result = _run_tool(['accuracy', '--output_dir', str(tmp_path / 'out'),
                      '--preset', 'benchmark', '--accuracy_jobs', '0'],
                     str(tmp_path))
  assert result.returncode != 0
  assert '--accuracy_jobs: jobs must be in [1, ' in result.stderr
  result = _run_tool(['accuracy', '--output_dir', str(tmp_path / 'out'),
                      '--accuracy_learning_rate=-1'], str(tmp_path))
  assert result.returncode != 0
  assert 'budget.constant_learning_rate must be > 0, got -1.0' in (
      result.stderr)
  result = _run_tool(['accuracy', '--output_dir', str(tmp_path / 'out'),
                      '--scene_maps=Mixed_3c@1,Conv2d_2c_3x3'], str(tmp_path))
  assert result.returncode != 0
  assert ("budget.scene_maps: scene maps 'Conv2d_2c_3x3': expected "
          "endpoint@scale (scale > 0) joined by +, got 'Conv2d_2c_3x3'"
          in result.stderr)
  result = _run_tool(['accuracy', '--output_dir', str(tmp_path / 'out'),
                      '--preset', 'huge'], str(tmp_path))
  assert result.returncode != 0
  assert "budget.preset: unknown synthetic preset 'huge'" in result.stderr
  result = _run_tool(['accuracy', '--output_dir', str(tmp_path / 'out'),
                      '--preset', 'benchmark'], str(tmp_path))
  assert result.returncode != 0
  assert ('--accuracy_config: ' in result.stderr and
          "reads 96x960 frames, but preset 'benchmark' has 96x128 frames"
          in result.stderr)
  assert not (tmp_path / 'out').exists()


def test_a_stale_work_dir_is_refused_before_any_work(tmp_path):
  # A run directory trained with another config (here: the base config
  # itself, whose steps and records differ from the budget's).
  work = tmp_path / 'work'
  run_dir = work / 'runs' / 'base_f8_s0'
  run_dir.mkdir(parents=True)
  with open(os.path.join(_REPO, 'configs', 'synthetic',
                         'acrn_tiny.config'), encoding='utf-8') as f:
    (run_dir / 'pipeline.config').write_text(f.read())
  result = _run_tool(['accuracy', '--quick'] + _BENCHMARK_PRESET + [
                      '--work_dir', str(work),
                      '--output_dir', str(tmp_path / 'out')], str(tmp_path))
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      f'--work_dir: {run_dir / "pipeline.config"} differs from the config '
      'this budget gives the run at line ')
  # The message alone, not the flags' help; nothing generated or written.
  assert '--accuracy_steps' not in result.stderr
  assert sorted(os.listdir(work)) == ['runs']
  assert not (tmp_path / 'out').exists()


def _stop_after_the_first_line(tmp_path, stop):
  """Starts the quick benchmark, calls stop(process) after its first line.

  Returns the rest of its output, its return code and invocations.json.
  """
  work = tmp_path / 'work'
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  process = subprocess.Popen(
      [sys.executable, _TOOL, 'accuracy', '--quick'] + _BENCHMARK_PRESET + [
          '--work_dir', str(work), '--output_dir', str(tmp_path / 'out')],
      cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
      stderr=subprocess.DEVNULL, text=True)
  try:
    # The first progress line: the benchmark is under way.
    first = process.stdout.readline()
    assert first.startswith('[accuracy] '), first
    stop(process)
    rest, _ = process.communicate(timeout=120)
  finally:
    process.kill()
  assert not (tmp_path / 'out').exists()
  with open(work / 'invocations.json', encoding='utf-8') as f:
    return rest, process.returncode, json.load(f)


def test_sigterm_stops_the_accuracy_benchmark_and_records_the_invocation(
    tmp_path):
  rest, returncode, invocations = _stop_after_the_first_line(
      tmp_path, lambda process: process.terminate())
  assert returncode == 143
  assert '[accuracy] stopped after ' in rest
  assert 'the same command continues where it stopped' in rest
  assert [i['completed'] for i in invocations] == [False]


def test_a_killed_accuracy_benchmark_keeps_its_invocation(tmp_path):
  # SIGKILL cannot be caught: the record made with each progress line is
  # what is left.
  rest, returncode, invocations = _stop_after_the_first_line(
      tmp_path, lambda process: process.kill())
  assert returncode == -9
  assert 'stopped after' not in rest
  assert [i['completed'] for i in invocations] == [False]


def test_no_pretraining_run_leaves_nothing_frozen():
  # The budget the flags give, in a process of its own (the tool defines
  # absl flags at import, which must not meet other tools' in a test
  # worker): with --accuracy_pretrain_steps=0 the full budget's runs train
  # everything from scratch, since nothing pretrained is there to freeze.
  script = """
import dataclasses, json, sys
from absl import flags
from tools import benchmark
flags.FLAGS(['benchmark.py'] + sys.argv[1:])
budget = benchmark.accuracy_budget_from_flags()
print(json.dumps({k: v for k, v in dataclasses.asdict(budget).items()
                  if k in ('pretrain_steps', 'freeze_pretrained', 'seeds',
                           'num_steps')}))
"""
  budgets = {}
  for steps in (0, 300):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['TF_CPP_MIN_LOG_LEVEL'] = '2'
    result = subprocess.run(
        [sys.executable, '-c', script, f'--accuracy_pretrain_steps={steps}'],
        cwd=_REPO, env=env, capture_output=True, text=True, timeout=300,
        check=True)
    budgets[steps] = json.loads(result.stdout.strip().splitlines()[-1])
  assert budgets[0]['pretrain_steps'] == 0
  assert not budgets[0]['freeze_pretrained']
  assert budgets[300]['pretrain_steps'] == 300
  assert budgets[300]['freeze_pretrained']
  # pylint: disable-next=g-import-not-at-top
  from benchmarks import accuracy_budget
  full = accuracy_budget.FULL
  assert budgets[0]['seeds'] == list(full.seeds)
  assert budgets[0]['num_steps'] == budgets[300]['num_steps'] == (
      full.num_steps)
