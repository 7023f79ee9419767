"""detectors: the hand-made SavedModel exports and the tiny ACRN checkpoint.

The SavedModel tests use tiny modules whose signature follows the
exporter's contract and returns fixed outputs (inference_fixtures); only
the CheckpointDetector test builds the real tiny model (one model call).
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import model_builder
from acrn_tf.core import checkpoint_paths
from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.inference import detectors
from tests.inference import inference_fixtures as fx

_det = standard_fields.DetectionResultFields


@pytest.fixture(scope='module')
def video_export(tmp_path_factory):
  return fx.write_export(str(tmp_path_factory.mktemp('video_tensor')))


def _clip(frames=fx.FRAMES_PER_CLIP, height=48, width=64):
  rng = np.random.default_rng(0)
  return rng.integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


def _check_fixed_detections(detections, heatmaps=True):
  expected = {_det.detection_boxes, _det.detection_scores,
              _det.detection_classes, _det.detection_multiclass_scores}
  if heatmaps:
    expected.add(_det.relation_heatmaps)
  assert set(detections) == expected
  n = fx.NUM_DETECTIONS
  np.testing.assert_allclose(detections[_det.detection_boxes], fx.BOXES[:n])
  np.testing.assert_allclose(detections[_det.detection_scores],
                             fx.SCORES[:n])
  assert detections[_det.detection_classes].dtype == np.int64
  np.testing.assert_array_equal(detections[_det.detection_classes], [1, 6])
  np.testing.assert_allclose(detections[_det.detection_multiclass_scores],
                             fx.MULTICLASS[:n])
  if heatmaps:
    np.testing.assert_allclose(detections[_det.relation_heatmaps],
                               fx.HEATMAPS[:n])


def test_video_tensor_export(video_export):
  detector = detectors.SavedModelDetector(video_export)
  assert detector.input_type == detectors.VIDEO_TENSOR
  assert (detector.frames_per_clip, detector.frame_stride) == (8, 1)
  assert detector.image_size == (96, 128)
  assert not detector.uses_flow
  assert detector.label_map == fx.LABELS
  assert detector.label_ids == (1, 2, 3, 4, 5, 6)
  assert detector.has_heatmaps
  _check_fixed_detections(detector.detect(_clip()))


def test_an_export_without_heat_maps_says_so(tmp_path):
  detector = detectors.SavedModelDetector(fx.write_export(
      str(tmp_path / 'export'), with_heatmaps=False))
  assert not detector.has_heatmaps
  assert _det.relation_heatmaps not in detector.detect(_clip())


def test_the_saved_model_directory_itself_is_accepted(video_export):
  detector = detectors.SavedModelDetector(
      os.path.join(video_export, 'saved_model'))
  assert detector.export_dir == os.path.abspath(video_export)
  assert detector.frames_per_clip == 8


@pytest.mark.parametrize('unknown_rank', [False, True])
def test_encoded_frames_export(tmp_path, unknown_rank):
  detector = detectors.SavedModelDetector(fx.write_export(
      str(tmp_path / 'export'), 'encoded_frames', unknown_rank=unknown_rank))
  assert detector.input_type == detectors.ENCODED_FRAMES
  _check_fixed_detections(detector.detect(_clip()))


def test_flow_export_takes_the_flow(tmp_path):
  detector = detectors.SavedModelDetector(fx.write_export(
      str(tmp_path / 'export'), with_flow=True))
  assert detector.uses_flow
  flow = np.zeros((8, 48, 64, 2), np.float32)
  _check_fixed_detections(detector.detect(_clip(), flow))
  with pytest.raises(detectors.DetectorError, match='give the clip\'s '
                     'optical flow'):
    detector.detect(_clip())
  with pytest.raises(detectors.DetectorError,
                     match=r'flow: expected float32 \[8, 48, 64, 2\]'):
    detector.detect(_clip(), np.zeros((8, 48, 60, 2), np.float32))


@pytest.mark.parametrize('unknown_rank', [False, True])
def test_tf_example_export_is_refused(tmp_path, unknown_rank):
  export = fx.write_export(str(tmp_path / 'export'), 'tf_example',
                           unknown_rank=unknown_rank)
  with pytest.raises(detectors.DetectorError,
                     match='exported with tf_example input.*export it with '
                     '--input_type video_tensor or encoded_frames'):
    detectors.SavedModelDetector(export)


def test_directory_without_saved_model_is_refused(tmp_path):
  with pytest.raises(detectors.DetectorError,
                     match=f'{tmp_path}: no SavedModel in '
                     f'{tmp_path}/saved_model'):
    detectors.SavedModelDetector(str(tmp_path))
  with pytest.raises(detectors.DetectorError,
                     match=f'{tmp_path}/missing: no such model directory'):
    detectors.SavedModelDetector(str(tmp_path / 'missing'))


def test_saved_model_without_serving_default_is_refused(tmp_path):
  export = fx.write_export(str(tmp_path / 'export'), signature=False)
  with pytest.raises(detectors.DetectorError,
                     match=r'export/saved_model: the SavedModel has no '
                     r"'serving_default' signature \(signatures: none\)"):
    detectors.SavedModelDetector(export)


def test_bad_clips_are_refused(video_export):
  detector = detectors.SavedModelDetector(video_export)
  with pytest.raises(detectors.DetectorError,
                     match=r'frames: expected uint8 \[8, height, width, 3\], '
                     r'got uint8 \[4, 48, 64, 3\]'):
    detector.detect(_clip(frames=4))
  with pytest.raises(detectors.DetectorError, match='got float32'):
    detector.detect(_clip().astype(np.float32))


def test_unbatch_detections_keeps_num_detections_rows():
  outputs = {key: value.numpy() for key, value in fx.fixed_outputs().items()}
  outputs[_det.num_detections] = np.array([1.0], np.float32)
  result = detectors.unbatch_detections(outputs)
  assert result[_det.detection_boxes].shape == (1, 4)
  assert result[_det.relation_heatmaps].shape == (1, 4, 5)
  assert _det.num_detections not in result


def test_checkpoint_detector_restores_and_detects(tmp_path):
  label_map_path = str(tmp_path / 'label_map.pbtxt')
  label_map_util.write_label_map(label_map_path, fx.LABELS)
  overrides = [f'train_input_reader.label_map_path={label_map_path}',
               f'eval_input_reader.label_map_path={label_map_path}']
  for reader in ('train_input_reader', 'eval_input_reader'):
    overrides += [f'{reader}.frames_per_clip=4', f'{reader}.frame_stride=2',
                  f'{reader}.image_height=64', f'{reader}.image_width=64']
  config = config_util.load_pipeline_config(fx.TINY_CONFIG,
                                            overrides=overrides)
  config_path = config_util.save_pipeline_config(config, str(tmp_path))
  tf.random.set_seed(3)
  model = model_builder.build_with_variables(
      config, config.eval_input_reader[0], is_training=False)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                                       str(tmp_path / 'model_dir'),
                                       max_to_keep=1)
  manager.save(checkpoint_number=3)

  with pytest.raises(checkpoint_paths.CheckpointNotFoundError,
                     match='no checkpoint in this directory'):
    detectors.CheckpointDetector(config_path, str(tmp_path))

  detector = detectors.CheckpointDetector(config_path,
                                          str(tmp_path / 'model_dir'))
  assert detector.checkpoint_path.endswith('ckpt-3')
  assert (detector.frames_per_clip, detector.frame_stride) == (4, 2)
  assert detector.image_size == (64, 64)
  assert detector.label_map == fx.LABELS
  assert detector.has_heatmaps  # ACRN's relation maps
  # The restored weights are the saved ones, not a fresh initialisation.
  # (Keras names the second model's layers differently; the order matches.)
  restored = detector._model.variables  # pylint: disable=protected-access
  assert len(restored) == len(model.variables)
  assert any(np.any(v.numpy() != 0) for v in restored)
  for saved, variable in zip(model.variables, restored):
    np.testing.assert_array_equal(variable.numpy(), saved.numpy())

  detections = detector.detect(_clip(frames=4, height=48, width=80))
  n = len(detections[_det.detection_scores])
  assert 1 <= n <= config.model.video_faster_rcnn.action_head.max_detections
  assert detections[_det.detection_boxes].shape == (n, 4)
  assert detections[_det.detection_multiclass_scores].shape == (n, 6)
  assert detections[_det.relation_heatmaps].shape[0] == n
  boxes = detections[_det.detection_boxes]
  assert np.all((boxes >= 0) & (boxes <= 1))
  assert set(detections[_det.detection_classes]) <= set(fx.LABELS)
  # The score is the multiclass score of the detection's class.
  columns = detections[_det.detection_classes] - 1
  np.testing.assert_allclose(
      detections[_det.detection_scores],
      detections[_det.detection_multiclass_scores][np.arange(n), columns],
      rtol=1e-6)
