"""Compiles protos/*.proto into acrn_tf/protos/*_pb2.py.

Used by setup.py at install time (no protoc on PATH is needed: the compiler
comes from the grpcio-tools build requirement) and by the test that checks
the generated modules are not stale. The .proto files import each other as
`acrn_tf/protos/NAME.proto`, so the generated modules import each other as
`acrn_tf.protos.NAME_pb2`.
"""

import glob
import os
import sys

REPO_ROOT = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(REPO_ROOT, 'protos')
PACKAGE_PROTO_PATH = 'acrn_tf/protos'


def proto_files(proto_dir=PROTO_DIR):
  """Returns the sorted .proto files of `proto_dir`."""
  files = sorted(glob.glob(os.path.join(proto_dir, '*.proto')))
  if not files:
    raise FileNotFoundError(f'no .proto files in {proto_dir}')
  return files


def compile_protos(output_root=REPO_ROOT, proto_dir=PROTO_DIR):
  """Writes `<output_root>/acrn_tf/protos/*_pb2.py`; returns their paths."""
  from grpc_tools import protoc  # pylint: disable=g-import-not-at-top
  import grpc_tools  # pylint: disable=g-import-not-at-top
  well_known = os.path.join(os.path.dirname(grpc_tools.__file__), '_proto')
  os.makedirs(os.path.join(output_root, PACKAGE_PROTO_PATH), exist_ok=True)
  outputs = []
  for path in proto_files(proto_dir):
    args = [
        'grpc_tools.protoc',
        f'--proto_path={PACKAGE_PROTO_PATH}={proto_dir}',
        f'--proto_path={well_known}',
        f'--python_out={output_root}',
        f'{PACKAGE_PROTO_PATH}/{os.path.basename(path)}',
    ]
    if protoc.main(args) != 0:
      raise RuntimeError(f'protoc failed on {path}')
    name = os.path.splitext(os.path.basename(path))[0] + '_pb2.py'
    outputs.append(os.path.join(output_root, PACKAGE_PROTO_PATH, name))
  return outputs


if __name__ == '__main__':
  for output in compile_protos(*sys.argv[1:2]):
    print(output)
