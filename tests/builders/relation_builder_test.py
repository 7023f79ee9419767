"""relation_builder: each relation kind from its config."""

import os

from google.protobuf import text_format
import pytest
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import config_validation
from acrn_tf.builders import relation_builder
from acrn_tf.protos import action_head_pb2
from acrn_tf.protos import relation_pb2
from acrn_tf.protos import s3dg_pb2
from acrn_tf.relation import acrn
from acrn_tf.relation import none
from acrn_tf.relation import resize_concat
from acrn_tf.relation import santoro

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

_TINY_EXTRACTOR = s3dg_pb2.S3dgFeatureExtractor(
    depth_multiplier=0.25, min_depth=8, weight_decay=1e-5,
    use_frozen_batch_norm=True)


def _relation(text):
  return text_format.Parse(text, relation_pb2.RelationModule())


def test_unset_or_none_is_the_base_model():
  assert isinstance(relation_builder.build_relation_module(None),
                    none.NoRelation)
  assert isinstance(relation_builder.build_relation_module(_relation('')),
                    none.NoRelation)
  assert isinstance(
      relation_builder.build_relation_module(_relation('none {}')),
      none.NoRelation)


def test_resize_concat():
  module = relation_builder.build_relation_module(
      _relation('resize_concat {} gradient_multiplier: 0.1 '
                'normalize_and_rescale: false'), _TINY_EXTRACTOR)
  assert isinstance(module, resize_concat.ResizeConcat)
  assert module.gradient_multiplier == pytest.approx(0.1)
  assert not module.normalize_and_rescale
  assert module.scene_endpoints == ('Mixed_4f',)  # unset: F itself


def test_santoro():
  module = relation_builder.build_relation_module(
      _relation('santoro { num_units: 32 } '
                'scene_features { endpoint: "Mixed_3c" scale: 0.5 }'),
      _TINY_EXTRACTOR)
  assert isinstance(module, santoro.SantoroRelation)
  assert module.output_channels == 32
  assert module.scene_endpoints == ('Mixed_3c',)
  assert module.scene_features[0].scale == 0.5
  assert module.gradient_multiplier == pytest.approx(0.01)  # the default


def test_acrn_defaults_follow_the_extractor_and_head():
  head = action_head_pb2.ActionHead(inflated_time_steps=2)
  module = relation_builder.build_relation_module(
      _relation('acrn {} scene_features { endpoint: "Conv2d_2c_3x3" } '
                'scene_features { endpoint: "Mixed_4f" scale: 0.5 }'),
      _TINY_EXTRACTOR, head)
  assert isinstance(module, acrn.ActorCentricRelation)
  config = module.get_config()
  # relation_channels 0 -> the channels of F (Mixed_4f: 832 * 0.25).
  assert config['relation_channels'] == 208
  assert config['inflated_time_steps'] == 2
  assert config['decompose_g_theta']
  assert config['head_config']['depth_multiplier'] == 0.25
  assert config['head_config']['use_frozen_batch_norm']
  assert config['weight_decay'] == pytest.approx(1e-5)
  assert module.output_channels == 256
  assert module.scene_endpoints == ('Conv2d_2c_3x3', 'Mixed_4f')


def test_acrn_explicit_settings():
  head = action_head_pb2.ActionHead(head_depth_multiplier=0.5)
  module = relation_builder.build_relation_module(
      _relation('acrn { relation_channels: 24 decompose_g_theta: false }'),
      _TINY_EXTRACTOR, head)
  config = module.get_config()
  assert config['relation_channels'] == 24
  assert not config['decompose_g_theta']
  assert module.output_channels == 512  # Mixed_5c at 0.5
  assert module.actor_feature_in_g_theta  # paper eq. 2 by default


@pytest.mark.parametrize('kind', ['santoro', 'acrn'])
def test_actor_feature_in_g_theta_reaches_the_module(kind):
  module = relation_builder.build_relation_module(
      _relation(f'{kind} {{}} actor_feature_in_g_theta: false'),
      _TINY_EXTRACTOR)
  assert module.actor_feature_in_g_theta is False


@pytest.mark.parametrize('text,message', [
    ('acrn {} gradient_multiplier: -1', 'gradient_multiplier: must be >= 0'),
    ('acrn {} scene_features { endpoint: "Mixed_5c" }',
     r'scene_features\[0\].endpoint: .Mixed_5c. is not produced'),
    ('acrn {} scene_features { scale: 0 }',
     r'scene_features\[0\].scale: must be > 0'),
    ('santoro { num_units: 0 }', 'santoro.num_units: must be >= 1'),
    ('acrn { relation_channels: -2 }', 'acrn.relation_channels: must be >= 0'),
    ('resize_concat {} actor_feature_in_g_theta: false',
     'relation_module.actor_feature_in_g_theta: false needs a module with '
     'g_theta \\(santoro or acrn\\), the module is resize_concat'),
    ('actor_feature_in_g_theta: false',
     'actor_feature_in_g_theta: .* the module is none'),
])
def test_bad_fields_are_named_once_by_config_validation(text, message):
  config = config_util.load_pipeline_config(
      os.path.join(REPO_ROOT, 'configs', 'synthetic', 'acrn_tiny.config'))
  config.model.video_faster_rcnn.relation_module.CopyFrom(_relation(text))
  with pytest.raises(config_validation.ConfigError, match=message):
    config_validation.validate_pipeline(config, 'acrn_tiny.config')


def test_layers_refuse_what_a_python_caller_gets_wrong():
  with pytest.raises(ValueError, match='gradient_multiplier must be >= 0'):
    relation_builder.build_relation_module(
        _relation('acrn {} gradient_multiplier: -1'), _TINY_EXTRACTOR)
  with pytest.raises(ValueError, match='num_units must be >= 1'):
    relation_builder.build_relation_module(
        _relation('santoro { num_units: 0 }'), _TINY_EXTRACTOR)
  with pytest.raises(ValueError, match='scale of Mixed_4f must be > 0'):
    relation_builder.build_relation_module(
        _relation('acrn {} scene_features { scale: 0 }'), _TINY_EXTRACTOR)


def test_paper_config_builds_shape_only():
  config = config_util.load_pipeline_config(
      os.path.join(REPO_ROOT, 'configs', 'jhmdb', 'acrn_s3dg_split1.config'))
  model = config.model.video_faster_rcnn
  module = relation_builder.build_relation_module(
      model.relation_module, model.feature_extractor, model.action_head)
  assert isinstance(module, acrn.ActorCentricRelation)
  assert module.scene_endpoints == ('Conv2d_2c_3x3',)
  assert module.get_config()['relation_channels'] == 832
  assert module.output_channels == 1024

  # Trace (no forward pass) at the paper's size: 240 x 320 frames, 64
  # sampled ROIs; Conv2d_2c_3x3 has stride 4 and 192 channels.
  @tf.function(input_signature=[
      tf.TensorSpec([1, 64, 1024], tf.float32),
      tf.TensorSpec([1, 64, 4], tf.float32),
      tf.TensorSpec([1, 60, 80, 192], tf.float32)])
  def relate(actor_features, boxes, scene):
    return module(actor_features, boxes, {'Conv2d_2c_3x3': scene},
                  training=True)

  outputs = relate.get_concrete_function().structured_outputs
  assert outputs.relation_features.shape.as_list() == [1, 64, 1024]
  assert outputs.relation_maps.shape.as_list() == [1, 64, 60, 80, 1024]
  assert module.g_theta.kernel.shape == (1024 + 4 + 192 + 2, 832)
