"""Tests of the model builder: tiny configs run, paper configs by shape."""

import pytest
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import model_builder
from acrn_tf.core import standard_fields as fields
from acrn_tf.data import label_map_util
from acrn_tf.meta_architectures import acrn_meta_arch
from acrn_tf.meta_architectures import video_faster_rcnn
from acrn_tf.relation import resize_concat
from acrn_tf.relation import santoro
from tests.meta_architectures import model_fixtures

_P = fields.PredictionFields


def _config(relation='acrn', **kwargs):
  return config_util.parse_pipeline_config_text(
      model_fixtures.model_config_text(relation, **kwargs))


@pytest.mark.parametrize('relation,meta_arch,module', [
    ('none', video_faster_rcnn.VideoFasterRCNN, None),
    ('resize_concat', acrn_meta_arch.ACRNMetaArch, resize_concat.ResizeConcat),
    ('santoro', acrn_meta_arch.ACRNMetaArch, santoro.SantoroRelation),
])
def test_relation_kind_picks_the_meta_architecture(relation, meta_arch,
                                                   module):
  model = model_builder.build(_config(relation).model, is_training=True,
                              image_size=(64, 64))
  assert type(model) is meta_arch  # pylint: disable=unidiomatic-typecheck
  if module is not None:
    assert isinstance(model.relation_module, module)


def test_config_values_reach_the_parts():
  config = _config('acrn', label_mode='SINGLE_LABEL')
  model = model_builder.build(config.model, is_training=False,
                              image_size=(64, 48))
  assert model.num_classes == model_fixtures.NUM_CLASSES
  assert model.label_mode == video_faster_rcnn.SINGLE_LABEL
  assert model.actor_detector.image_size == (64, 48)
  assert model.actor_detector.num_proposals(training=True) == 8
  extractor = model.feature_extractor.get_config()
  assert extractor['streams'] == 'rgb'
  assert extractor['feature_endpoint'] == 'Mixed_4f'
  assert extractor['depth_multiplier'] == 0.25


def test_detector_image_size_from_the_config_wins():
  config = _config('none')
  detector = config.model.video_faster_rcnn.actor_detector
  detector.image_height, detector.image_width = 96, 128
  model = model_builder.build(config.model, True, image_size=(64, 64))
  assert model.actor_detector.image_size == (96, 128)


def test_a_scene_endpoint_is_flattened_for_the_relation_module():
  config = _config('acrn')
  relation = config.model.video_faster_rcnn.relation_module
  feature = relation.scene_features.add()
  feature.endpoint, feature.scale = 'Mixed_3c', 0.5
  model = model_builder.build(config.model, True, image_size=(64, 64))
  assert 'Mixed_3c' in model.feature_extractor.get_config()[
      'scene_endpoints']
  frames = tf.zeros([1, model_fixtures.NUM_FRAMES, 64, 64, 3])
  predictions = model.predict(model.preprocess(
      {fields.InputDataFields.frames: frames}))
  assert predictions[_P.scene_feature_maps]['Mixed_3c'].shape == (
      1, 8, 8, 120)
  assert predictions[_P.relation_maps].shape[1:4] == (8, 4, 4)


def test_a_half_set_keyframe_size_is_refused():
  config = _config('none')
  config.model.video_faster_rcnn.actor_detector.image_height = 32
  with pytest.raises(model_builder.ModelConfigError,
                     match='image_height and image_width must be set together'):
    model_builder.build(config.model, True, image_size=(64, 64))


@pytest.mark.parametrize('field,value,message', [
    ('num_classes', 0, 'num_classes must be >= 1, got 0'),
    ('dropout_keep_probability', 0.0,
     r'dropout_keep_probability must be in \(0, 1\]'),
    ('inflated_time_steps', 0, 'inflated_time_steps must be >= 1, got 0'),
])
def test_the_model_refuses_what_a_python_caller_gets_wrong(field, value,
                                                           message):
  # config_validation names the field for configs read from a file; a
  # message built in Python reaches the model's own check, once.
  config = _config('none')
  setattr(config.model.video_faster_rcnn.action_head, field, value)
  with pytest.raises(ValueError, match=message):
    model_builder.build(config.model, True, image_size=(64, 64))


def test_missing_image_size_and_model_are_refused():
  with pytest.raises(model_builder.ModelConfigError, match='pass image_size'):
    model_builder.build(_config('none').model, True)
  config = _config('none')
  config.model.ClearField('video_faster_rcnn')
  with pytest.raises(model_builder.ModelConfigError,
                     match='expected a video_faster_rcnn model'):
    model_builder.build(config.model, True, image_size=(64, 64))


def test_paper_config_shapes_without_running():
  """The AVA paper config, traced symbolically: no clip is computed."""
  config = config_util.read_pipeline_config(
      'configs/ava/acrn_s3dg_v2.1.config')
  reader = config.train_input_reader
  size = (reader.image_height, reader.image_width)
  model = model_builder.build(config.model, is_training=False,
                              image_size=size)
  assert model.feature_extractor.get_config()['streams'] == 'rgb_and_flow'
  clip = [1, reader.frames_per_clip, *size]
  specs = (tf.TensorSpec(clip + [3], tf.float32),
           tf.TensorSpec(clip + [2], tf.float32))

  @tf.function(autograph=False)
  def predict(frames, flow):
    predictions = model.predict(model.preprocess(
        {fields.InputDataFields.frames: frames,
         fields.InputDataFields.flow: flow}))
    return {k: v for k, v in predictions.items()
            if k in (_P.feature_map, _P.actor_features,
                     _P.relation_features, _P.relation_maps,
                     _P.class_logits)}

  outputs = predict.get_concrete_function(*specs).structured_outputs
  proposals = model.actor_detector.num_proposals(training=False)
  height, width = -(-size[0] // 16), -(-size[1] // 16)
  assert outputs[_P.feature_map].shape == (1, height, width, 832)
  assert outputs[_P.actor_features].shape == (1, proposals, 1024)
  assert outputs[_P.relation_features].shape == (1, proposals, 1024)
  # The relation map keeps F's grid (scene scale 1.0).
  assert outputs[_P.relation_maps].shape == (1, proposals, height, width,
                                             1024)
  assert outputs[_P.class_logits].shape == (1, proposals, 60)


def test_build_with_variables_creates_every_variable_of_a_two_stream_model():
  config = config_util.parse_pipeline_config_text(
      model_fixtures.model_config_text('acrn').replace(
          'min_depth: 8', 'min_depth: 8 streams: RGB_AND_FLOW') +
      'eval_input_reader { frames_per_clip: 4 image_height: 64 '
      'image_width: 64 }')
  model = model_builder.build_with_variables(
      config, config.eval_input_reader[0], is_training=False)
  assert sorted(model.feature_extractor.towers) == ['flow', 'rgb']
  assert all(part.variables for part in (
      model.feature_extractor, model.actor_detector, model.actor_head,
      model.relation_module, model.classifier, model.box_regressor))
  # The temporal flattening of F spans the reader's 4 frames / 4.
  assert model.feature_extractor.flattening_layer(
      'Mixed_4f').kernel.shape[0] == 1


def test_model_label_map_reads_the_eval_label_map_first(tmp_path):
  config = _config('none')
  num_classes = config.model.video_faster_rcnn.action_head.num_classes
  assert model_builder.model_label_map(config) == {
      i: str(i) for i in range(1, num_classes + 1)}
  for name in ('train', 'eval'):
    path = str(tmp_path / f'{name}.pbtxt')
    label_map_util.write_label_map(path, {1: f'{name}_a', 2: f'{name}_b'})
  config.train_input_reader.label_map_path = str(tmp_path / 'train.pbtxt')
  assert model_builder.model_label_map(config) == {1: 'train_a',
                                                   2: 'train_b'}
  config.eval_input_reader.add(label_map_path=str(tmp_path / 'eval.pbtxt'))
  assert model_builder.model_label_map(config) == {1: 'eval_a', 2: 'eval_b'}
