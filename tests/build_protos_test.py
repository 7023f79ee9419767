"""The generated *_pb2.py modules match protos/*.proto."""

import filecmp
import os

import build_protos
from acrn_tf import protos as protos_package


def test_generated_modules_are_not_stale(tmp_path):
  fresh = build_protos.compile_protos(output_root=str(tmp_path))
  installed_dir = os.path.dirname(protos_package.__file__)
  assert fresh, 'no proto compiled'
  for fresh_path in fresh:
    name = os.path.basename(fresh_path)
    installed = os.path.join(installed_dir, name)
    assert os.path.exists(installed), (
        f'{name} is missing from {installed_dir}: run `pip install -e .` or '
        '`make protos`')
    assert filecmp.cmp(fresh_path, installed, shallow=False), (
        f'{installed} is stale against protos/: run `pip install -e .` or '
        '`make protos`')


def test_every_proto_has_a_generated_module():
  names = {os.path.splitext(os.path.basename(p))[0]
           for p in build_protos.proto_files()}
  assert {'pipeline', 'model', 'train', 'input_reader', 'eval'} <= names
  for name in names:
    __import__(f'acrn_tf.protos.{name}_pb2')
