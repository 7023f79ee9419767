"""Imports run only down the floors of DESIGN.md's layout, never up.

Floors, top to bottom: tools -> benchmarks -> inference / export ->
training -> visualization -> builders -> meta_architectures -> relation /
models / evaluation -> data -> core (and the generated protos). A module
may import its own floor and any floor below it. Visualization (drawing
with OpenCV) sits above the model, so the model graph never pulls it in.
Every import statement counts, also one inside a function.
"""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Bottom first.
FLOORS = (
    ('core', 'protos'),
    ('data',),
    ('relation', 'models', 'evaluation'),
    ('meta_architectures',),
    ('builders',),
    ('visualization',),
    ('training',),
    ('inference', 'export'),
    ('benchmarks',),
    ('tools',),
)
_FLOOR_OF = {name: level for level, names in enumerate(FLOORS)
             for name in names}
_TOOLS = FLOORS.index(('tools',))


def _package_floor(dotted):
  """The floor of a dotted module name of the project, or None."""
  parts = dotted.split('.')
  if parts[0] == 'acrn_tf':
    if len(parts) == 1:
      return 0
    return _FLOOR_OF.get(parts[1], 0)
  if parts[0] in ('benchmarks', 'tools'):
    return _FLOOR_OF[parts[0]]
  return None


def _file_floor(relative_path):
  parts = relative_path.replace(os.sep, '/').split('/')
  if parts[0] == 'tools':
    return _TOOLS, 'tools'
  if parts[0] == 'benchmarks':
    return _FLOOR_OF['benchmarks'], 'benchmarks'
  if len(parts) == 2:  # acrn_tf/__init__.py
    return 0, 'acrn_tf'
  return _FLOOR_OF.get(parts[1], 0), f'acrn_tf.{parts[1]}'


def _imports(tree):
  """(line, dotted module) of every import of the tree."""
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        yield node.lineno, alias.name
    elif isinstance(node, ast.ImportFrom):
      if node.level:  # relative: only tools/ uses it, among its own modules.
        yield node.lineno, 'tools'
        continue
      for alias in node.names:
        yield node.lineno, f'{node.module}.{alias.name}'


def _source_files():
  for top in ('acrn_tf', 'benchmarks', 'tools'):
    for directory, dirs, files in os.walk(os.path.join(REPO, top)):
      dirs[:] = [d for d in dirs if d != '__pycache__']
      for name in sorted(files):
        if name.endswith('.py'):
          path = os.path.relpath(os.path.join(directory, name), REPO)
          yield path.replace(os.sep, '/')


def upward_imports(relative_path, source):
  """The imports of a file that run up the floors, as messages."""
  level, package = _file_floor(relative_path)
  found = []
  for line, dotted in _imports(ast.parse(source, relative_path)):
    target = _package_floor(dotted)
    if target is not None and target > level:
      found.append(f'{relative_path}:{line}: {package} (floor {level}) '
                   f'imports {dotted} (floor {target})')
  return found


def test_no_import_runs_up_the_floors():
  found = []
  for path in _source_files():
    with open(os.path.join(REPO, path), encoding='utf-8') as f:
      found.extend(upward_imports(path, f.read()))
  assert not found, 'imports that run up:\n' + '\n'.join(found)


def test_every_package_has_a_floor():
  packages = {name for name in os.listdir(os.path.join(REPO, 'acrn_tf'))
              if os.path.isdir(os.path.join(REPO, 'acrn_tf', name)) and
              name != '__pycache__'}
  assert packages - set(_FLOOR_OF) == set()


@pytest.mark.parametrize('path, source, expected', [
    ('acrn_tf/data/input/decoder.py',
     'import os\n\ndef f():\n  from acrn_tf.builders import x\n',
     ['acrn_tf/data/input/decoder.py:4: acrn_tf.data (floor 1) imports '
      'acrn_tf.builders.x (floor 4)']),
    ('acrn_tf/builders/b.py',
     'from acrn_tf.training import trainer\n',
     ['acrn_tf/builders/b.py:1: acrn_tf.builders (floor 4) imports '
      'acrn_tf.training.trainer (floor 6)']),
    ('acrn_tf/meta_architectures/m.py',
     'import acrn_tf.visualization.heatmaps\n',
     ['acrn_tf/meta_architectures/m.py:1: acrn_tf.meta_architectures '
      '(floor 3) imports acrn_tf.visualization.heatmaps (floor 5)']),
    ('benchmarks/b.py', 'from tools import benchmark\n',
     ['benchmarks/b.py:1: benchmarks (floor 8) imports tools.benchmark '
      '(floor 9)']),
    ('acrn_tf/training/t.py',
     'from acrn_tf.data import label_map_util\nfrom acrn_tf import core\n'
     'import numpy\n', []),
])
def test_upward_imports_names_file_and_line(path, source, expected):
  assert upward_imports(path, source) == expected


def test_data_subpackages_import_only_themselves_and_the_data_root():
  """conversion/, input/ and synthetic/ share only label_map_util."""
  found = []
  for path in _source_files():
    parts = path.split('/')
    if parts[:2] != ['acrn_tf', 'data'] or len(parts) < 4:
      continue
    with open(os.path.join(REPO, path), encoding='utf-8') as f:
      tree = ast.parse(f.read(), path)
    for line, dotted in _imports(tree):
      names = dotted.split('.')
      if names[:2] != ['acrn_tf', 'data'] or names[2] in (
          parts[2], 'label_map_util'):
        continue
      found.append(f'{path}:{line}: imports {dotted}')
  assert not found, '\n'.join(found)
