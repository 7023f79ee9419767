"""Every console script of setup.py names a tools/ module with a main()."""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _console_scripts():
  tree = ast.parse(open(os.path.join(REPO, 'setup.py')).read())
  for node in tree.body:
    if (isinstance(node, ast.Assign) and
        getattr(node.targets[0], 'id', None) == 'CONSOLE_SCRIPTS'):
      return ast.literal_eval(node.value)
  raise AssertionError('setup.py has no CONSOLE_SCRIPTS list')


def _top_level_functions(path):
  tree = ast.parse(open(path).read())
  return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_console_scripts_point_at_tool_mains():
  scripts = _console_scripts()
  names = [entry.split('=')[0].strip() for entry in scripts]
  assert len(names) == len(set(names)), f'duplicate script names: {names}'
  for entry in scripts:
    name, target = (part.strip() for part in entry.split('='))
    module, function = target.split(':')
    package, tool = module.split('.')
    assert package == 'acrn_tf_tools', entry
    path = os.path.join(REPO, 'tools', f'{tool}.py')
    assert os.path.exists(path), f'{name}: {path} does not exist'
    assert function in _top_level_functions(path), (
        f'{name}: tools/{tool}.py has no top-level {function}()')


# CLIs that drive the top-level benchmarks/ package, which is not installed.
REPOSITORY_ONLY_TOOLS = {'benchmark', 'benchmark_input', 'relation_readout'}


def _tool_clis():
  """tools/*.py modules with a top-level main() (not the shared helpers)."""
  directory = os.path.join(REPO, 'tools')
  return {name[:-3] for name in os.listdir(directory)
          if name.endswith('.py') and
          'main' in _top_level_functions(os.path.join(directory, name))}


def test_every_cli_in_tools_has_a_console_script():
  targets = {entry.split('=')[1].split(':')[0].split('.')[1]
             for entry in _console_scripts()}
  assert _tool_clis() - REPOSITORY_ONLY_TOOLS - targets == set()
  assert REPOSITORY_ONLY_TOOLS & targets == set()
