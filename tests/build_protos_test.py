"""The generated *_pb2.py modules match protos/*.proto.

The compiler runs in a child process: grpc_tools' protoc extension and
TensorFlow's protobuf runtime must not be loaded into one process (importing
the first after the second crashes the interpreter), and other test files of
the same pytest worker load TensorFlow.
"""

import filecmp
import os
import subprocess
import sys

import build_protos
from acrn_tf import protos as protos_package


def _compile_in_child(output_root):
  result = subprocess.run(
      [sys.executable, build_protos.__file__, output_root],
      capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, (
      f'build_protos.py exited with {result.returncode}:\n{result.stderr}')
  return result.stdout.split()


def test_generated_modules_are_not_stale(tmp_path):
  fresh = _compile_in_child(str(tmp_path))
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
