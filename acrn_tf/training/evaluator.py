"""Evaluation of a detection model over the eval input, as an orbit evaluator.

Each replica runs preprocess -> predict -> postprocess on its part of the
batch (with `use_xla`, as one XLA computation: the batch's string features
stay outside it and are passed through); the outputs and the ground truth
come back to the host as numpy and feed the metrics of
`eval_config.metrics_set` (frame-AP, under the VOC or the ACT protocol of
`eval_config.ap_protocol`, and the AVA protocol from
`acrn_tf.evaluation`). `eval_end` writes the report (metrics.json,
per-class AP csv, PR curves PNG) into `<model_dir>/eval/step_<N>/`, a few
keyframes with ground-truth boxes (green), detections (labelled) and the
top detection's relation heat map into TensorBoard, and returns the scalars
(mAP and per-class AP) that orbit's Controller writes there too.
"""

import os
from typing import Dict, List, Mapping, Optional

from absl import logging
import numpy as np
import orbit
import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from acrn_tf.evaluation import act_protocol
from acrn_tf.evaluation import ava_csv
from acrn_tf.evaluation import ava_protocol
from acrn_tf.evaluation import frame_ap
from acrn_tf.evaluation import reporting
from acrn_tf.protos import eval_pb2
from acrn_tf.visualization import heatmaps

_I = fields.InputDataFields
_D = fields.DetectionResultFields
# Ground truth and ids the host needs from each batch.
_INPUT_KEYS = (_I.video_id, _I.keyframe_timestamp, _I.groundtruth_boxes,
               _I.groundtruth_classes, _I.groundtruth_valid)
# Passed on when the batch has them (the ACT protocol's pixel boxes).
_OPTIONAL_INPUT_KEYS = (_I.original_frame_shape,)


class DetectionEvaluator(orbit.StandardEvaluator):
  """Computes the configured metrics of a model over the eval dataset."""

  def __init__(self,
               model,
               eval_dataset,
               strategy: tf.distribute.Strategy,
               eval_config: eval_pb2.EvalConfig,
               label_map: Mapping[int, str],
               output_dir: Optional[str] = None,
               summary_dir: Optional[str] = None,
               global_step: Optional[tf.Variable] = None,
               use_xla: bool = False):
    """Initialises the evaluator.

    Args:
      model: the detection model.
      eval_dataset: a distributed dataset (one epoch) of eval batches.
      strategy: the distribution strategy.
      eval_config: metrics, thresholds, AVA files, visualisations.
      label_map: id -> name of the model's classes (its score columns
        follow the ids in ascending order).
      output_dir: where each evaluation writes its report (None: nowhere).
      summary_dir: TensorBoard directory for the images (None: none).
      global_step: the step the evaluated weights were trained to.
      use_xla: compile predict + postprocess with XLA (with one replica;
        a TPU compiles the step itself).
    """
    self._model = model
    self._strategy = strategy
    self._config = eval_config
    self._label_map = {int(k): str(v) for k, v in label_map.items()}
    self._output_dir = output_dir
    self._summary_dir = summary_dir
    self._global_step = global_step
    self._evaluators = {}
    self._images: List[np.ndarray] = []
    self._last_metrics: Dict = {}
    # As the trainer: one replica compiles here, a TPU compiles the whole
    # step itself, and several GPU replicas are not compiled (their
    # variables live on other devices than one compiled function's).
    single = strategy.num_replicas_in_sync == 1 and not isinstance(
        strategy, tf.distribute.TPUStrategy)
    if use_xla and not single:
      logging.warning('use_xla: the evaluation step of %s is not compiled '
                      'by the evaluator.', type(strategy).__name__)
    self._detect = detection_step(model, use_xla and single)
    super().__init__(
        eval_dataset=eval_dataset,
        options=orbit.StandardEvaluatorOptions(use_tf_while_loop=False))

  @property
  def last_metrics(self) -> Dict:
    """The metric dicts of the last evaluation, by metric name."""
    return self._last_metrics

  def _build_evaluators(self):
    thresholds = list(self._config.iou_thresholds) or [0.5]
    metrics = list(self._config.metrics_set) or [eval_pb2.EvalConfig.FRAME_AP]
    evaluators = {}
    for metric in metrics:
      if metric == eval_pb2.EvalConfig.FRAME_AP:
        if self._config.ap_protocol == eval_pb2.EvalConfig.ACT:
          evaluators['frame_ap_act'] = act_protocol.ActFrameAPEvaluator(
              self._label_map, iou_thresholds=thresholds)
        else:
          evaluators['frame_ap'] = frame_ap.FrameAPEvaluator(
              self._label_map, iou_thresholds=thresholds)
      elif metric == eval_pb2.EvalConfig.AVA_FRAME_AP:
        categories = self._label_map
        if self._config.ava_class_subset_path:
          from acrn_tf.data import label_map_util  # pylint: disable=g-import-not-at-top
          subset = label_map_util.read_label_map(
              self._config.ava_class_subset_path)
          categories = {i: n for i, n in categories.items() if i in subset}
        excluded = ()
        if self._config.ava_excluded_timestamps_path:
          excluded = ava_csv.read_excluded_timestamps(
              self._config.ava_excluded_timestamps_path)
        evaluators['ava_frame_ap'] = ava_protocol.AvaFrameAPEvaluator(
            categories, sorted(self._label_map), excluded_keys=excluded,
            max_detections_per_keyframe=(
                self._config.max_detections_per_keyframe or 50))
      else:
        logging.warning('eval_config.metrics_set: %s is computed from tubes '
                        '(tools/evaluate.py), not during training.',
                        eval_pb2.EvalConfig.Metric.Name(metric))
    return evaluators

  def eval_begin(self):
    self._evaluators = self._build_evaluators()
    self._images = []
    self._num_examples = 0
    return {}  # a state, so that orbit calls `eval_reduce` on every batch

  def eval_step(self, iterator):
    detect = self._detect

    @tf.autograph.experimental.do_not_convert
    def step_fn(batch):
      detections = detect({key: value for key, value in batch.items()
                           if value.dtype != tf.string})
      outputs = {key: batch[key] for key in _INPUT_KEYS}
      outputs.update({key: batch[key] for key in _OPTIONAL_INPUT_KEYS
                      if key in batch})
      outputs[_I.frames] = batch[_I.keyframe]
      outputs.update(detections)
      return outputs

    outputs = self._strategy.run(step_fn, args=(next(iterator),))
    return tf.nest.map_structure(
        lambda x: tf.concat(self._strategy.experimental_local_results(x), 0),
        outputs)

  def eval_reduce(self, state, step_outputs):
    batch = {k: np.asarray(v) for k, v in step_outputs.items()}
    limit = self._config.num_examples
    size = batch[_I.video_id].shape[0]
    if limit and self._num_examples + size > limit:
      keep = max(limit - self._num_examples, 0)
      batch = {k: v[:keep] for k, v in batch.items()}
      size = keep
    self._num_examples += size
    if not size:
      return state
    for evaluator in self._evaluators.values():
      evaluator.add_eval_dict(batch)
    self._maybe_visualize(batch)
    return state

  def _maybe_visualize(self, batch):
    wanted = self._config.num_visualizations - len(self._images)
    for i in range(min(wanted, batch[_I.video_id].shape[0])):
      self._images.append(render_keyframe(batch, i, self._label_map))

  def eval_end(self, state=None) -> Dict[str, float]:
    step = int(self._global_step.numpy()) if self._global_step is not None \
        else 0
    scalars = {}
    self._last_metrics = {}
    for name, evaluator in self._evaluators.items():
      metrics = evaluator.evaluate()
      self._last_metrics[name] = metrics
      scalars.update(reporting.scalar_summaries(metrics, prefix=name))
      logging.info('%s at step %d (%d keyframes):\n%s', name, step,
                   self._num_examples, reporting.format_per_class_table(
                       metrics))
      if self._output_dir:
        reporting.write_report(
            os.path.join(self._output_dir, f'step_{step}', name), metrics)
    if self._summary_dir and self._images:
      writer = tf.summary.create_file_writer(self._summary_dir)
      with writer.as_default():
        tf.summary.image('detections', np.stack(self._images), step=step,
                         max_outputs=len(self._images))
      writer.flush()
    return scalars


def detection_step(model, use_xla: bool = False):
  """(batch without strings) -> detections: preprocess, predict, postprocess.

  Args:
    model: the detection model.
    use_xla: compile it with XLA (tf.function(jit_compile=True)).

  Returns:
    A function of a batch dict (frames, true_image_shape, ...; no string
    features) returning the postprocess dict.
  """

  @tf.autograph.experimental.do_not_convert
  def detect(batch):
    predictions = model.predict(model.preprocess(batch), training=False)
    return model.postprocess(
        predictions, true_image_shape=batch[_I.true_image_shape])

  return tf.function(detect, jit_compile=True) if use_xla else detect


def render_keyframe(batch: Mapping[str, np.ndarray], index: int,
                    label_map: Mapping[int, str],
                    score_threshold: float = 0.3) -> np.ndarray:
  """One keyframe with its ground truth, detections and heat map, uint8 RGB.

  Ground-truth boxes are green; detections above `score_threshold` are
  drawn with their top class and score; the top detection's relation heat
  map (ACRN models) is blended over the frame.
  """
  frame = np.clip(batch[_I.frames][index], 0, 255).astype(np.uint8)
  num = int(batch[_D.num_detections][index])
  if _D.relation_heatmaps in batch and num:
    frame = heatmaps.blend_heatmap(frame,
                                   batch[_D.relation_heatmaps][index, 0])
  valid = batch[_I.groundtruth_valid][index].astype(bool)
  for box in batch[_I.groundtruth_boxes][index][valid]:
    frame = heatmaps.draw_box_with_label(frame, box, '', color=(0, 255, 0))
  for d in range(num):
    score = float(batch[_D.detection_scores][index, d])
    if score < score_threshold:
      continue
    label_id = int(batch[_D.detection_classes][index, d])
    name = label_map.get(label_id, str(label_id))
    frame = heatmaps.draw_box_with_label(
        frame, batch[_D.detection_boxes][index, d], f'{name} {score:.2f}',
        color=(255, 80, 0))
  return frame
