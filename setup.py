"""Installs acrn_tf, compiling protos/*.proto into acrn_tf/protos on the way."""

import os
import sys

import setuptools
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_protos  # pylint: disable=g-import-not-at-top,wrong-import-position


class BuildPyWithProtos(build_py):
  """Generates acrn_tf/protos/*_pb2.py before collecting the package files."""

  def run(self):
    build_protos.compile_protos()
    super().run()


# Thin CLIs in tools/ are installed as the package acrn_tf_tools so that the
# console scripts can import them; they also run as `python tools/NAME.py`.
# tools/benchmark.py, tools/benchmark_input.py and tools/relation_readout.py
# have no console script: they drive the top-level benchmarks/ package,
# which is repository tooling (its defaults are paths in the checkout) and
# is not installed; run them from a checkout as `python tools/benchmark.py`
# (or `make benchmark`).
CONSOLE_SCRIPTS = [
    'acrn-make-synthetic-dataset = acrn_tf_tools.make_synthetic_dataset:main',
    'acrn-create-ava-tf-record = acrn_tf_tools.create_ava_tf_record:main',
    'acrn-create-generic-tf-record = acrn_tf_tools.create_generic_tf_record:main',
    'acrn-evaluate = acrn_tf_tools.evaluate:main',
    'acrn-model-main = acrn_tf_tools.model_main:main',
    'acrn-create-jhmdb-tf-record = acrn_tf_tools.create_jhmdb_tf_record:main',
    'acrn-check-records = acrn_tf_tools.check_records:main',
    'acrn-export = acrn_tf_tools.exporter_main:main',
    'acrn-infer-video = acrn_tf_tools.infer_video:main',
    'acrn-receptive-field = acrn_tf_tools.receptive_field:main',
]

setuptools.setup(
    name='acrn_tf',
    version='0.1.0',
    description=('Actor-Centric Relation Network action detection, built as '
                 'a TensorFlow Object Detection API extension.'),
    python_requires='>=3.10',
    packages=(setuptools.find_packages(include=['acrn_tf', 'acrn_tf.*']) +
              ['acrn_tf_tools']),
    package_dir={'acrn_tf_tools': 'tools'},
    install_requires=[
        'tensorflow==2.20.*',
        'tf-keras==2.20.*',
        'tf-models-official==2.20.*',
        'tf-slim>=1.1.0',
        'numpy>=1.26',
        'opencv-python-headless>=4.9',
        'absl-py>=1.4',
        'protobuf>=7.35.1,<8',
        'scipy>=1.11',
        'matplotlib>=3.8',
    ],
    extras_require={'test': [
        'pytest>=8', 'pytest-xdist>=3.5', 'pytest-timeout>=2.3',
        'grpcio-tools==1.85.1']},
    entry_points={'console_scripts': CONSOLE_SCRIPTS},
    cmdclass={'build_py': BuildPyWithProtos},
)
