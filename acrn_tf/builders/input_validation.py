"""Checks a pipeline config against the files it names, before a model is built.

`config_validation` checks the config alone; this reads what an input
reader names and refuses, with the config file, the field, the record file
and key, and both values:
  * a label map that is missing or whose number of ids is not
    `action_head.num_classes`;
  * records whose stored clip cannot give the reader's clip: their
    `clip/frame_stride` (video frames between stored frames) does not divide
    the reader's `frame_stride` (video frames between clip frames), or too
    few frames are stored around the keyframe;
  * `use_flow` over records that store no flow;
  * `label_mode: SINGLE_LABEL` over records with several labels on a box;
  * anchors that do not fit the actors at the model's image size: most
    boxes of the records, scaled to the actor detector's input, overlap no
    anchor shape by `rpn.background_iou_threshold` (every anchor is a
    negative for them).
The first file of each reader (up to `record_summary.DEFAULT_MAX_RECORDS`
records) is read; nothing is decoded.
"""

import math
import os
from typing import Iterable, List, Tuple

import numpy as np

from absl import logging
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import config_validation
from acrn_tf.builders import dataset_builder
from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.data.input import clip_sampling
from acrn_tf.data.input import record_summary
from acrn_tf.protos import action_head_pb2
from acrn_tf.protos import pipeline_pb2

ConfigError = config_validation.ConfigError
_keys = standard_fields.SequenceExampleKeys


def readers_of(config: pipeline_pb2.TrainEvalPipelineConfig,
               train: bool, evaluate: bool):
  """(field path, InputReader) of the readers a job reads."""
  readers = []
  if train:
    readers.append(('train_input_reader', config.train_input_reader))
  if evaluate and config.eval_input_reader:
    readers.append(('eval_input_reader[0]', config.eval_input_reader[0]))
  return readers


def validate_inputs(config: pipeline_pb2.TrainEvalPipelineConfig,
                    source: str,
                    readers: Iterable) -> None:
  """Checks the label maps and records of `readers` against `config`.

  Args:
    config: a validated pipeline config.
    source: how errors name the config (its file).
    readers: (field path, InputReader) pairs, e.g. from `readers_of`.

  Raises:
    ConfigError: the first disagreement, naming both sides.
    dataset_builder.InputFilesNotFoundError: a reader matches no file.
  """
  readers = list(readers)
  validate_label_maps(config, source, readers)
  head = config.model.video_faster_rcnn.action_head
  head_path = 'model.video_faster_rcnn.action_head'
  for path, reader in readers:
    files = dataset_builder.expand_input_paths(
        reader.tf_record_input_reader.input_path)
    try:
      summary = record_summary.summarize(files[0])
    except record_summary.RecordSummaryError as e:
      raise ConfigError(f'{source}: {path}.tf_record_input_reader.'
                        f'input_path: {e}') from None
    _check_clip(source, path, reader, summary)
    if reader.use_flow and not summary.has_flow:
      raise ConfigError(
          f'{source}: {path}.use_flow is true but {summary.path} stores no '
          f'optical flow ({_keys.flow_x_encoded!r}, {_keys.flow_y_encoded!r}'
          '): convert the records with --flow, or use a feature extractor '
          'with streams: RGB and use_flow: false')
    _check_anchors(source, path, reader, config.model.video_faster_rcnn,
                   summary)
    if (head.label_mode == action_head_pb2.ActionHead.SINGLE_LABEL and
        summary.max_labels_per_box > 1):
      raise ConfigError(
          f'{source}: {head_path}.label_mode is SINGLE_LABEL (one action '
          f'per actor) but {summary.path} has boxes with '
          f'{summary.max_labels_per_box} labels '
          f'({_keys.box_label_count!r}): use MULTI_LABEL')


def validate_label_maps(config: pipeline_pb2.TrainEvalPipelineConfig,
                        source: str, readers: Iterable) -> None:
  """Checks that every label map of `readers` has num_classes classes.

  eval_config.label_map_path, when set, is checked too.

  Raises:
    ConfigError: a missing label map, or one of another size.
  """
  head = config.model.video_faster_rcnn.action_head
  label_maps = [(f'{path}.label_map_path', reader.label_map_path)
                for path, reader in readers]
  if config.eval_config.label_map_path:
    label_maps.append(('eval_config.label_map_path',
                       config.eval_config.label_map_path))
  for field, path in label_maps:
    _check_label_map(source, field, path, head.num_classes,
                     'model.video_faster_rcnn.action_head')


def _check_label_map(source, field, path, num_classes, head_path):
  try:
    ids = label_map_util.read_label_map(path)
  except (OSError, ValueError) as e:
    raise ConfigError(f'{source}: {field}: cannot read the label map '
                      f'{path}: {e}') from None
  if len(ids) != num_classes:
    raise ConfigError(
        f'{source}: {head_path}.num_classes is {num_classes} but {field} '
        f'{path} has {len(ids)} classes (ids {sorted(ids)}): the classifier '
        'has one output per label-map class; make them equal')


def _check_clip(source, path, reader, summary):
  """The reader's clip must be sampled from the stored one as it is."""
  frames, stride = reader.frames_per_clip, reader.frame_stride
  stored = (f'{summary.path} stores {summary.num_frames} frames '
            f'({_keys.num_frames!r}) every {summary.frame_stride} video '
            f'frames ({_keys.frame_stride!r})')
  try:
    step = (1 if frames == 1 else  # a one-frame clip has no stride
            clip_sampling.stored_frame_step(stride, summary.frame_stride))
  except ValueError:
    raise ConfigError(
        f'{source}: {path}.frame_stride is {stride} (video frames between '
        f'clip frames) but {stored}: the clip\'s frames are not among the '
        f'stored ones. Set frame_stride to a multiple of '
        f'{summary.frame_stride}, or convert the records with a '
        f'--frame_stride that divides {stride}') from None
  center = clip_sampling.sampled_keyframe_index(frames)
  before, after = center * step, (frames - 1 - center) * step
  have_before = summary.keyframe_index
  have_after = summary.num_frames - 1 - summary.keyframe_index
  if before > have_before or after > have_after:
    raise ConfigError(
        f'{source}: {path}.frames_per_clip {frames} every frame_stride '
        f'{stride} video frames needs {before} stored frames before the '
        f'keyframe and {after} after, but {stored} with the keyframe at '
        f'index {summary.keyframe_index} ({_keys.keyframe_index!r}): '
        'shorten the clip or convert with more --frames_per_clip')
  span = (frames - 1) * stride + 1
  seconds = (f', {(frames - 1) * stride / summary.fps:.2f} s at the '
             f'records\' {summary.fps:g} fps' if summary.fps > 0 else '')
  logging.info('%s: clips of %d frames every %d video frames (%d video '
               'frames%s), every %d-th stored frame of %s.', path, frames,
               stride, span, seconds, step, summary.path)


def anchor_shapes(anchors) -> List[Tuple[float, float]]:
  """(height, width) in pixels of every anchor, as Model Garden makes them.

  Args:
    anchors: an `AnchorGenerator` message.
  """
  ratios = list(anchors.aspect_ratios) or [1.0]
  shapes = []
  for level in range(anchors.min_level, anchors.max_level + 1):
    for scale in range(anchors.num_scales):
      size = anchors.anchor_size * 2**level * 2**(scale / anchors.num_scales)
      for ratio in ratios:
        shapes.append((size / math.sqrt(ratio), size * math.sqrt(ratio)))
  return shapes


def best_shape_iou(box_shapes: np.ndarray,
                   anchor_shapes_hw: np.ndarray) -> np.ndarray:
  """Each box's best IoU with an anchor of the same centre.

  Args:
    box_shapes: float [N, 2] (height, width), pixels.
    anchor_shapes_hw: float [A, 2] (height, width), pixels.

  Returns:
    float [N], the best IoU any anchor shape reaches (anchors lie on a grid,
    so the RPN sees at most this).
  """
  boxes = box_shapes[:, None, :]
  anchors = anchor_shapes_hw[None, :, :]
  inter = np.prod(np.minimum(boxes, anchors), axis=-1)
  union = np.prod(boxes, axis=-1) + np.prod(anchors, axis=-1) - inter
  return np.max(inter / np.maximum(union, 1e-12), axis=1)


def _check_anchors(source, path, reader, model, summary):
  """Most actors must overlap some anchor shape at the model's image size."""
  if not summary.box_sizes:
    return
  detector = model.actor_detector
  height = detector.image_height or reader.image_height
  width = detector.image_width or reader.image_width
  boxes = np.array(summary.box_sizes, np.float64) * [height, width]
  shapes = np.array(anchor_shapes(detector.anchor_generator))
  threshold = detector.rpn.background_iou_threshold
  best = best_shape_iou(boxes, shapes)
  if np.mean(best < threshold) <= 0.5:
    return
  median = np.median(boxes, axis=0)
  anchor_size = detector.anchor_generator.anchor_size
  anchor_path = 'model.video_faster_rcnn.actor_detector.anchor_generator'
  raise ConfigError(
      f'{source}: {anchor_path}: anchors of {shapes.min():.0f} to '
      f'{shapes.max():.0f} pixels do not fit the actors of {summary.path} '
      f'at the actor detector\'s {height} x {width} input (from '
      f'{path}.image_height/width): {np.mean(best < threshold):.0%} of its '
      f'{len(boxes)} boxes (median {median[0]:.0f} x {median[1]:.0f} '
      f'pixels) overlap no anchor shape by rpn.background_iou_threshold '
      f'{threshold:g}. Scale anchor_size (now {anchor_size:g}) with the '
      'image size, or change min_level/max_level')


def check_trained_clip(config: pipeline_pb2.TrainEvalPipelineConfig,
                       source: str, checkpoint_path: str) -> None:
  """Refuses `config` when its clip differs from the training job's.

  The training job saves its merged pipeline.config in model_dir, beside
  the checkpoints; a checkpoint without one (copied alone) is not checked.

  Raises:
    config_validation.ConfigError: naming both files, field and values.
  """
  trained_path = os.path.join(os.path.dirname(checkpoint_path),
                              config_util.PIPELINE_CONFIG_NAME)
  if not tf.io.gfile.exists(trained_path):
    return
  config_validation.check_same_clip(
      config, source, config_util.read_pipeline_config(trained_path),
      trained_path)
