"""evaluator: metrics, the example limit, reports and images of an eval run."""

import glob
import os

import numpy as np
import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from acrn_tf.protos import eval_pb2
from acrn_tf.training import evaluator as evaluator_lib

_I = fields.InputDataFields
_D = fields.DetectionResultFields
_LABEL_MAP = {1: 'a', 2: 'b', 3: 'c'}


class _Oracle:
  """Detects each ground-truth box once, scoring its classes 0.9, others 0."""

  def preprocess(self, batch):
    return batch

  def predict(self, preprocessed, training):
    assert not training
    return preprocessed

  def postprocess(self, predictions, true_image_shape):
    del true_image_shape
    valid = tf.cast(predictions[_I.groundtruth_valid], tf.float32)
    scores = 0.9 * predictions[_I.groundtruth_classes] * valid[..., None]
    return {
        _D.detection_boxes: predictions[_I.groundtruth_boxes],
        _D.detection_multiclass_scores: scores,
        _D.detection_scores: tf.reduce_max(scores, -1),
        _D.detection_classes: tf.cast(tf.argmax(scores, -1) + 1, tf.float32),
        _D.num_detections: tf.reduce_sum(tf.cast(valid, tf.int32), 1),
    }


def _dataset(num_examples=6, batch_size=2, frame_shape=None):
  rng = np.random.default_rng(0)
  corner = rng.uniform(0.0, 0.5, [num_examples, 2, 2])
  boxes = np.concatenate([corner, corner + 0.4], -1).astype(np.float32)
  classes = np.zeros([num_examples, 2, 3], np.float32)
  classes[:, 0, 0] = 1.0
  classes[:, 1, 1:] = 1.0
  examples = {
      _I.video_id: [f'v{i}' for i in range(num_examples)],
      _I.keyframe_timestamp: np.full([num_examples], 902.0, np.float32),
      _I.groundtruth_boxes: boxes,
      _I.groundtruth_classes: classes,
      # The last example has one actor.
      _I.groundtruth_valid: np.array([[True, True]] * (num_examples - 1) +
                                     [[True, False]]),
      _I.keyframe: rng.uniform(0, 255, [num_examples, 32, 32, 3]).astype(
          np.float32),
      _I.true_image_shape: np.array([[32, 32, 3]] * num_examples, np.int32),
  }
  if frame_shape is not None:
    examples[_I.original_frame_shape] = np.array(
        [frame_shape] * num_examples, np.int32)
  dataset = tf.data.Dataset.from_tensor_slices(examples).batch(batch_size)
  return tf.distribute.get_strategy().experimental_distribute_dataset(
      dataset)


def _evaluator(tmp_path, frame_shape=None, use_xla=False, **config):
  eval_config = eval_pb2.EvalConfig(
      metrics_set=[eval_pb2.EvalConfig.FRAME_AP], iou_thresholds=[0.5],
      **config)
  return evaluator_lib.DetectionEvaluator(
      _Oracle(), _dataset(frame_shape=frame_shape),
      tf.distribute.get_strategy(), eval_config,
      _LABEL_MAP, output_dir=str(tmp_path / 'eval'),
      summary_dir=str(tmp_path / 'summaries'),
      global_step=tf.Variable(7, dtype=tf.int64), use_xla=use_xla)


def test_a_perfect_detector_scores_one_and_writes_its_report(tmp_path):
  evaluator = _evaluator(tmp_path, num_visualizations=3)
  scalars = evaluator.evaluate(-1)
  metrics = evaluator.last_metrics['frame_ap']
  assert metrics['num_keyframes'] == 6
  assert metrics['mean_ap'] == 1.0
  assert all(value == 1.0 for value in scalars.values())
  report = tmp_path / 'eval' / 'step_7' / 'frame_ap'
  assert (report / 'metrics.json').exists()
  events = glob.glob(os.path.join(str(tmp_path / 'summaries'), 'events.*'))
  images = [value for event in tf.compat.v1.train.summary_iterator(events[0])
            for value in event.summary.value if value.tag == 'detections']
  # One image summary holds the 3 keyframes (max_outputs), as 3 encodings
  # plus width and height.
  assert len(images) == 1
  assert len(tf.make_ndarray(images[0].tensor)) == 2 + 3


def test_act_protocol_is_named_in_metrics_reports_and_scalars(tmp_path):
  # The perfect detector under ap_protocol ACT, boxes scaled by the stored
  # 240 x 320 frame size: every class AP 1.
  evaluator = _evaluator(tmp_path, frame_shape=[240, 320],
                         ap_protocol=eval_pb2.EvalConfig.ACT)
  scalars = evaluator.evaluate(-1)
  metrics = evaluator.last_metrics['frame_ap_act']
  assert metrics['mean_ap'] == 1.0
  assert metrics['protocol'].startswith('ACT (')
  assert 'frame_ap_act/mAP@0.5IOU' in scalars
  assert all(name.startswith('frame_ap_act/') for name in scalars)
  report = tmp_path / 'eval' / 'step_7' / 'frame_ap_act' / 'metrics.json'
  assert '"protocol": "ACT (' in report.read_text()
  # The VOC default says so too.
  evaluator = _evaluator(tmp_path)
  evaluator.evaluate(-1)
  assert evaluator.last_metrics['frame_ap']['protocol'].startswith(
      'PASCAL VOC')


def test_with_xla_the_strings_stay_outside_and_the_metrics_are_the_same(
    tmp_path):
  # The batches carry string video ids, which XLA cannot compile; they go
  # around the compiled predict + postprocess to the metrics.
  evaluator = _evaluator(tmp_path, use_xla=True)
  evaluator.evaluate(-1)
  metrics = evaluator.last_metrics['frame_ap']
  assert metrics['num_keyframes'] == 6
  assert metrics['mean_ap'] == 1.0


def test_num_examples_stops_mid_batch(tmp_path):
  evaluator = _evaluator(tmp_path, num_examples=3)
  evaluator.evaluate(-1)
  assert evaluator.last_metrics['frame_ap']['num_keyframes'] == 3


def test_render_keyframe_draws_ground_truth_green():
  batch = {
      _I.frames: np.zeros([1, 32, 32, 3], np.float32),
      _I.groundtruth_boxes: np.array([[[0.25, 0.25, 0.75, 0.75]]],
                                     np.float32),
      _I.groundtruth_valid: np.array([[True]]),
      _D.num_detections: np.array([0]),
  }
  image = evaluator_lib.render_keyframe(batch, 0, _LABEL_MAP)
  assert image.shape == (32, 32, 3) and image.dtype == np.uint8
  green = (image[..., 1] > 200) & (image[..., 0] < 50)
  assert green.any()
  assert not green[0].any() and not green[16, 16]  # only on the box edges
