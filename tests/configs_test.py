"""Every config under configs/ parses and validates."""

import glob
import os

import pytest

from acrn_tf.builders import config_util
from acrn_tf.protos import eval_pb2
from acrn_tf.protos import s3dg_pb2
from acrn_tf.protos import train_pb2

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(REPO_ROOT, 'configs', '**',
                                        '*.config'), recursive=True))


def test_the_expected_configs_exist():
  names = {os.path.relpath(p, os.path.join(REPO_ROOT, 'configs'))
           for p in CONFIGS}
  assert {'synthetic/acrn_tiny.config', 'synthetic/base_tiny.config',
          'synthetic/acrn_stage.config',
          'jhmdb/acrn_s3dg_split1.config', 'jhmdb/acrn_s3dg_split2.config',
          'jhmdb/acrn_s3dg_split3.config',
          'ava/acrn_s3dg_v2.1.config'} <= names


@pytest.mark.parametrize('path', CONFIGS,
                         ids=lambda p: os.path.relpath(p, REPO_ROOT))
def test_config_parses_and_validates(path):
  config = config_util.load_pipeline_config(path)
  assert config.model.video_faster_rcnn.action_head.num_classes >= 1


def test_stage_config_is_the_tiny_one_on_wide_frames_and_a_smaller_map():
  tiny, stage = (config_util.load_pipeline_config(
      os.path.join(REPO_ROOT, 'configs', 'synthetic', name))
                 for name in ('acrn_tiny.config', 'acrn_stage.config'))
  for config in (tiny, stage):
    for reader in (config.train_input_reader, config.eval_input_reader[0]):
      reader.ClearField('name')
      reader.ClearField('label_map_path')
      reader.tf_record_input_reader.ClearField('input_path')
  for reader in (stage.train_input_reader, stage.eval_input_reader[0]):
    assert (reader.image_height, reader.image_width) == (96, 960)
    reader.image_width = 128
  # Its relation module reads Mixed_4f at a quarter of its size.
  scene = stage.model.video_faster_rcnn.relation_module.scene_features[0]
  assert (scene.endpoint, scene.scale) == ('Mixed_4f', 0.25)
  scene.scale = 1.0
  # Its g_theta leaves f_a out (docs/synthetic_dataset.md).
  relation = stage.model.video_faster_rcnn.relation_module
  assert not relation.actor_feature_in_g_theta
  relation.ClearField('actor_feature_in_g_theta')
  assert stage == tiny


@pytest.mark.parametrize('name', ['jhmdb/acrn_s3dg_split1.config',
                                  'ava/acrn_s3dg_v2.1.config'])
def test_paper_configs_follow_the_paper(name):
  config = config_util.load_pipeline_config(
      os.path.join(REPO_ROOT, 'configs', name))
  model = config.model.video_faster_rcnn
  assert config.train_input_reader.frames_per_clip == 20
  assert model.actor_detector.backbone.model_id == 50
  assert (model.feature_extractor.streams ==
          s3dg_pb2.S3dgFeatureExtractor.RGB_AND_FLOW)
  assert model.feature_extractor.fusion_endpoint == 'Mixed_4f'
  assert model.feature_extractor.temporal_conv_startat == 'Mixed_4b'
  assert model.relation_module.WhichOneof('relation_module_oneof') == 'acrn'
  assert model.relation_module.gradient_multiplier == pytest.approx(0.01)
  cosine = (config.train_config.optimizer.momentum_optimizer.learning_rate
            .cosine_decay_learning_rate)
  assert cosine.warmup_learning_rate == pytest.approx(1e-5)
  assert cosine.learning_rate_base == pytest.approx(1e-3)
  assert cosine.warmup_steps == 40000


@pytest.mark.parametrize('name', ['jhmdb/acrn_s3dg_split1.config',
                                  'jhmdb/acrn_s3dg_split2.config',
                                  'jhmdb/acrn_s3dg_split3.config',
                                  'ava/acrn_s3dg_v2.1.config'])
def test_paper_configs_warm_start_from_the_papers_three_checkpoints(name):
  # Paper 4.1: S3D-G RGB and flow pretrained on Kinetics, both Mixed_5b/5c
  # heads from the RGB stream, ResNet-50 pretrained on ImageNet.
  config = config_util.load_pipeline_config(
      os.path.join(REPO_ROOT, 'configs', name))
  train = config.train_config
  source = train_pb2.TrainConfig.WarmStartSource
  assert not train.fine_tune_checkpoint
  assert [(s.type, list(s.part)) for s in train.warm_start_source] == [
      (train_pb2.TrainConfig.SLIM_S3DG,
       [source.RGB_TOWER, source.ACTOR_HEAD, source.RELATION_HEAD]),
      (train_pb2.TrainConfig.SLIM_S3DG, [source.FLOW_TOWER]),
      (train_pb2.TrainConfig.RESNET, []),
  ]
  assert [s.checkpoint for s in train.warm_start_source] == [
      'PATH_TO_BE_CONFIGURED/pretrained/s3dg_rgb_kinetics/model.ckpt',
      'PATH_TO_BE_CONFIGURED/pretrained/s3dg_flow_kinetics/model.ckpt',
      'PATH_TO_BE_CONFIGURED/pretrained/resnet50_imagenet/ckpt-28080']


def test_ava_config_evaluates_60_classes():
  config = config_util.load_pipeline_config(
      os.path.join(REPO_ROOT, 'configs', 'ava', 'acrn_s3dg_v2.1.config'))
  assert config.model.video_faster_rcnn.action_head.num_classes == 60


@pytest.mark.parametrize('name', ['jhmdb/acrn_s3dg_split1.config',
                                  'jhmdb/acrn_s3dg_split2.config',
                                  'jhmdb/acrn_s3dg_split3.config'])
def test_jhmdb_configs_read_the_label_map_the_converter_writes(name):
  # create_jhmdb_tf_record writes label_map.pbtxt beside its shards, under
  # WORKSPACE.md's records/<dataset>/.
  config = config_util.load_pipeline_config(
      os.path.join(REPO_ROOT, 'configs', name))
  for reader in (config.train_input_reader, config.eval_input_reader[0]):
    records_dir = os.path.dirname(
        reader.tf_record_input_reader.input_path[0])
    assert records_dir == 'PATH_TO_BE_CONFIGURED/records/jhmdb'
    assert reader.label_map_path == os.path.join(records_dir,
                                                 'label_map.pbtxt')


@pytest.mark.parametrize('name', ['jhmdb/acrn_s3dg_split1.config',
                                  'jhmdb/acrn_s3dg_split2.config',
                                  'jhmdb/acrn_s3dg_split3.config'])
def test_jhmdb_configs_evaluate_with_the_act_protocol(name):
  # The protocol whose JHMDB figures papers report (act_protocol).
  config = config_util.load_pipeline_config(
      os.path.join(REPO_ROOT, 'configs', name))
  assert config.eval_config.ap_protocol == eval_pb2.EvalConfig.ACT


def test_ava_config_reads_records_and_the_official_files_per_workspace():
  config = config_util.load_pipeline_config(
      os.path.join(REPO_ROOT, 'configs', 'ava', 'acrn_s3dg_v2.1.config'))
  for reader in (config.train_input_reader, config.eval_input_reader[0]):
    assert reader.tf_record_input_reader.input_path[0].startswith(
        'PATH_TO_BE_CONFIGURED/records/ava/')
    assert reader.label_map_path.startswith('PATH_TO_BE_CONFIGURED/data/ava/')
