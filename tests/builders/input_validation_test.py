"""A pipeline config against the label maps and records it names."""

import os

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import input_validation
from acrn_tf.data import label_map_util
from acrn_tf.protos import pipeline_pb2
from tests.data.input import sequence_example_fixtures as fx

TINY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'configs', 'synthetic', 'acrn_tiny.config')
# Actors of about 40 x 40 pixels at the tiny config's 96 x 128: its anchors
# (32 to 64 pixels) fit them.
BOX = (0.3, 0.3, 0.72, 0.6)


def _write(tmp_path, num_frames=8, frame_stride=1, labels=((1,),),
           boxes=(BOX,), flow=False, num_classes=4):
  records = str(tmp_path / 'train.tfrecord')
  with tf.io.TFRecordWriter(records) as writer:
    writer.write(fx.sequence_example(
        fx.make_frames(num_frames), boxes, labels,
        keyframe_index=num_frames // 2, frame_stride=frame_stride,
        quantised_flow=fx.make_quantised_flow(num_frames) if flow else None))
  label_map = str(tmp_path / 'label_map.pbtxt')
  label_map_util.write_label_map(
      label_map, {i: f'action_{i}' for i in range(1, num_classes + 1)})
  return records, label_map


def _config(records, label_map, *overrides):
  values = [f'{r}.{field}={value}'
            for r in ('train_input_reader', 'eval_input_reader[0]')
            for field, value in (('tf_record_input_reader.input_path',
                                  records), ('label_map_path', label_map))]
  values += ['model.video_faster_rcnn.action_head.num_classes=4']
  return config_util.load_pipeline_config(TINY,
                                          overrides=values + list(overrides))


def _validate(config):
  input_validation.validate_inputs(
      config, 'my.config', input_validation.readers_of(config, True, True))


def test_records_that_fit_the_config_pass(tmp_path):
  _validate(_config(*_write(tmp_path)))


def test_num_classes_against_the_label_map(tmp_path):
  records, label_map = _write(tmp_path, num_classes=3)
  config = _config(records, label_map,
                   'model.video_faster_rcnn.action_head.num_classes=6')
  with pytest.raises(
      input_validation.ConfigError,
      match=r'^my\.config: model\.video_faster_rcnn\.action_head\.num_classes '
      r'is 6 but train_input_reader\.label_map_path .*label_map\.pbtxt has 3 '
      r'classes'):
    _validate(config)


def test_a_missing_label_map_is_named(tmp_path):
  records, _ = _write(tmp_path)
  with pytest.raises(input_validation.ConfigError,
                     match=r'train_input_reader\.label_map_path: cannot read '
                     r'the label map .*nowhere\.pbtxt'):
    _validate(_config(records, str(tmp_path / 'nowhere.pbtxt')))


def test_records_converted_at_another_stride_are_refused(tmp_path):
  # The converter took every 5th video frame; the reader asks for every
  # video frame. Before, the two compounded: 3.5 s clips in training.
  config = _config(*_write(tmp_path, frame_stride=5))
  with pytest.raises(
      input_validation.ConfigError,
      match=r'^my\.config: train_input_reader\.frame_stride is 1 \(video '
      r'frames between clip frames\) but .*train\.tfrecord stores 8 frames '
      r"\('clip/num_frames'\) every 5 video frames \('clip/frame_stride'\)"):
    _validate(config)


def test_a_multiple_of_the_records_stride_is_sampled_from_them(tmp_path):
  # 8 frames stored every 2 video frames; 3 frames every 4 video frames
  # take every 2nd stored frame.
  records, label_map = _write(tmp_path, frame_stride=2)
  _validate(_config(records, label_map,
                    *[f'{r}.{f}' for r in ('train_input_reader',
                                           'eval_input_reader[0]')
                      for f in ('frames_per_clip=3', 'frame_stride=4')]))


def test_a_clip_longer_than_the_stored_one_is_refused(tmp_path):
  records, label_map = _write(tmp_path, num_frames=4)
  with pytest.raises(
      input_validation.ConfigError,
      match=r'train_input_reader\.frames_per_clip 8 every frame_stride 1 '
      r'video frames needs 4 stored frames before the keyframe and 3 after, '
      r'but .* stores 4 frames .* with the keyframe at index 2'):
    _validate(_config(records, label_map))


def test_flow_streams_need_records_with_flow(tmp_path):
  config = _config(
      *_write(tmp_path),
      'model.video_faster_rcnn.feature_extractor.streams=RGB_AND_FLOW',
      'train_input_reader.use_flow=true', 'eval_input_reader[0].use_flow=true')
  with pytest.raises(input_validation.ConfigError,
                     match=r'train_input_reader\.use_flow is true but .* '
                     r'stores no optical flow'):
    _validate(config)


def test_single_label_over_multi_label_records_is_refused(tmp_path):
  config = _config(*_write(tmp_path, labels=((1, 3),)),
                   'model.video_faster_rcnn.action_head.label_mode='
                   'SINGLE_LABEL')
  with pytest.raises(input_validation.ConfigError,
                     match=r'action_head\.label_mode is SINGLE_LABEL .* has '
                     r'boxes with 2 labels'):
    _validate(config)


def test_anchors_that_fit_no_actor_are_refused(tmp_path):
  # At 384 x 512 the tiny config's 32 to 64 pixel anchors are far below
  # its actors (160 x 150 pixels).
  sizes = [f'{r}.{f}' for r in ('train_input_reader', 'eval_input_reader[0]')
           for f in ('image_height=384', 'image_width=512')]
  with pytest.raises(
      input_validation.ConfigError,
      match=r'anchor_generator: anchors of 23 to 64 pixels do not fit the '
      r'actors of .* at the actor detector\'s 384 x 512 input .*100% of its '
      r'1 boxes \(median 161 x 154 pixels\)'):
    _validate(_config(*_write(tmp_path), *sizes))


def test_best_shape_iou_by_hand():
  # A 10 x 10 box against 10 x 20 (IoU 0.5) and 5 x 5 (0.25) anchors.
  best = input_validation.best_shape_iou(np.array([[10.0, 10.0]]),
                                         np.array([[10.0, 20.0], [5.0, 5.0]]))
  np.testing.assert_allclose(best, [0.5])
  shapes = input_validation.anchor_shapes(
      pipeline_pb2.TrainEvalPipelineConfig().model.video_faster_rcnn
      .actor_detector.anchor_generator)
  # Defaults: level 4, 3 scales, ratio 1, anchor_size 4: 64 * 2^(k/3).
  np.testing.assert_allclose([h for h, _ in shapes],
                             [64.0, 64 * 2**(1 / 3), 64 * 2**(2 / 3)])
