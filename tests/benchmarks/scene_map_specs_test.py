"""scene_map_specs: reading specs and a config's spec."""

import os

import pytest

from acrn_tf.builders import config_util
from benchmarks import scene_map_specs

_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), 'configs', 'synthetic', 'acrn_tiny.config')


def test_parse():
  assert scene_map_specs.parse('Conv2d_2c_3x3@0.5+Mixed_4f@1') == (
      ('Conv2d_2c_3x3', 0.5), ('Mixed_4f', 1.0))
  for spec, part in (('Mixed_4f', 'Mixed_4f'), ('@1', '@1'),
                     ('Mixed_4f@0+Mixed_3c@1', 'Mixed_4f@0'),
                     ('Mixed_4f@x', 'Mixed_4f@x')):
    with pytest.raises(ValueError, match=f'expected endpoint@scale .* got '
                       f'{part!r}'):
      scene_map_specs.parse(spec)
  with pytest.raises(ValueError, match="scene maps 'Mixed_3c@1\\+Mixed_9z@1': "
                     "unknown S3D-G endpoint 'Mixed_9z'"):
    scene_map_specs.parse('Mixed_3c@1+Mixed_9z@1')


def test_of_config():
  base = config_util.read_pipeline_config(_CONFIG)
  assert scene_map_specs.of_config(base) == 'Mixed_4f@1'
  relation = base.model.video_faster_rcnn.relation_module
  relation.ClearField('scene_features')
  assert scene_map_specs.of_config(base) == 'Mixed_4f@1'  # The default.
  relation.none.SetInParent()
  assert scene_map_specs.of_config(base) == ''
