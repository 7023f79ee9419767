"""Builds the tf.data input pipeline from an `InputReader` config.

shards (glob) -> [shard per worker] -> interleaved TFRecord reading ->
[1 of n] -> [shuffle] -> repeat -> decode, sample the clip, augment, resize,
pad (one parallel map) -> [drop short clips] -> batch -> prefetch.

Every example gets its own stateless seed from a base seed and its position in
the stream, so with ``deterministic: true`` two runs yield the same batches.
"""

import random
from typing import Dict, List, Optional, Sequence

from absl import logging
import tensorflow as tf

from official.vision.ops import preprocess_ops

from acrn_tf.core import standard_fields
from acrn_tf.data.input import augmentation
from acrn_tf.data.input import decoder as decoder_lib
from acrn_tf.protos import input_reader_pb2

_fields = standard_fields.InputDataFields


class InputFilesNotFoundError(ValueError):
  """No TFRecord file matched the configured input paths."""


def expand_input_paths(patterns: Sequence[str]) -> List[str]:
  """Returns the sorted, de-duplicated files matching paths or globs.

  Raises:
    InputFilesNotFoundError: naming the patterns when nothing matches.
  """
  patterns = [p for p in patterns if p]
  files = set()
  for pattern in patterns:
    files.update(tf.io.gfile.glob(pattern))
  if not files:
    raise InputFilesNotFoundError(
        f'tf_record_input_reader.input_path: no file matches {patterns}')
  return sorted(files)


def augmentation_options(
    config: input_reader_pb2.Augmentation) -> augmentation.AugmentationOptions:
  """Converts the `Augmentation` proto to `AugmentationOptions`."""
  return augmentation.AugmentationOptions(
      random_horizontal_flip=config.random_horizontal_flip,
      min_scale=config.min_scale,
      max_scale=config.max_scale,
      min_crop_area_fraction=config.min_crop_area_fraction,
      min_box_area_fraction=config.min_box_area_fraction,
      max_brightness_delta=config.max_brightness_delta,
      max_contrast_delta=config.max_contrast_delta,
      max_saturation_delta=config.max_saturation_delta,
      max_hue_delta=config.max_hue_delta)


def label_ids_from_label_map(label_map_path: str) -> List[int]:
  """Returns the sorted class ids of a label map (.pbtxt)."""
  if not label_map_path:
    raise ValueError('label_map_path: is required when label_ids are not '
                     'given')
  try:
    from acrn_tf.data import label_map_util  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ValueError(
        f'{label_map_path}: cannot read the label map: '
        f'acrn_tf.data.label_map_util is not available; pass label_ids') from e
  # The input pipeline's only dependency on the label-map reader.
  return sorted(label_map_util.get_label_map_dict(label_map_path).values())


def pad_groundtruth(tensor_dict: Dict[str, tf.Tensor],
                    max_num_boxes: int) -> Dict[str, tf.Tensor]:
  """Pads (or truncates) the per-box tensors to `max_num_boxes` rows.

  Args:
    tensor_dict: holds groundtruth_boxes ``[N, 4]``, groundtruth_classes
      ``[N, K]`` and groundtruth_track_ids ``[N]``.
    max_num_boxes: the fixed number of rows.

  Returns:
    A new dict with boxes and classes padded with zeros, track ids padded
    with -1, groundtruth_valid bool ``[max_num_boxes]`` and
    num_groundtruth_boxes ``min(N, max_num_boxes)``.
  """
  output = dict(tensor_dict)
  num_boxes = tf.minimum(tf.shape(tensor_dict[_fields.groundtruth_boxes])[0],
                         max_num_boxes)
  for key, value in ((_fields.groundtruth_boxes, 0),
                     (_fields.groundtruth_classes, 0),
                     (_fields.groundtruth_track_ids, -1)):
    output[key] = preprocess_ops.clip_or_pad_to_fixed_size(
        tensor_dict[key], max_num_boxes, constant_values=value)
  output[_fields.groundtruth_valid] = tf.range(max_num_boxes) < num_boxes
  output[_fields.num_groundtruth_boxes] = num_boxes
  return output


def build(input_reader_config: input_reader_pb2.InputReader,
          batch_size: int,
          is_training: bool,
          label_ids: Optional[Sequence[int]] = None,
          input_context: Optional[tf.distribute.InputContext] = None
         ) -> tf.data.Dataset:
  """Builds the batched dataset of one input reader.

  Args:
    input_reader_config: the `InputReader` message.
    batch_size: the global batch size; with `input_context` each input
      pipeline yields ``input_context.get_per_replica_batch_size(batch_size)``
      examples per batch.
    is_training: training drops the last partial batch (all shapes static)
      and applies the configured augmentation; evaluation does neither.
    label_ids: the label map's class ids; None reads them from
      ``label_map_path``. The multi-hot columns follow them in ascending order.
    input_context: from `tf.distribute`, to give every worker its own part of
      the data.

  Returns:
    A dataset of dicts keyed by `InputDataFields`, batched (B = batch size):
      frames uint8 ``[B, T, H, W, 3]``; flow float32 ``[B, T, H, W, 2]``
      (use_flow only); keyframe uint8 ``[B, H, W, 3]``; keyframe_index int32
      ``[B]``; groundtruth_boxes float32 ``[B, M, 4]`` normalised;
      groundtruth_classes float32 ``[B, M, K]`` multi-hot;
      groundtruth_track_ids int32 ``[B, M]`` (-1 padding); groundtruth_valid
      bool ``[B, M]``; num_groundtruth_boxes int32 ``[B]``; video_id string
      ``[B]``; keyframe_timestamp float32 ``[B]``; true_image_shape int32
      ``[B, 3]``; original_frame_shape int32 ``[B, 2]``; with
      T = frames_per_clip, H x W = image_height x image_width,
      M = max_num_boxes.

  Raises:
    InputFilesNotFoundError: when no file matches the input paths.
    ValueError: for a missing tf_record_input_reader, a bad batch size or an
      unreadable label map.
  """
  config = input_reader_config
  if not config.HasField('tf_record_input_reader'):
    raise ValueError(f'input reader {config.name!r}: tf_record_input_reader '
                     f'is required')
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}')
  if label_ids is None:
    label_ids = label_ids_from_label_map(config.label_map_path)
  files = expand_input_paths(config.tf_record_input_reader.input_path)
  if input_context is not None:
    batch_size = input_context.get_per_replica_batch_size(batch_size)
  deterministic = config.deterministic
  if deterministic or config.HasField('seed'):
    base_seed = config.seed
  else:
    base_seed = random.SystemRandom().getrandbits(62)
  logging.info('Input reader %r: %d files, batch size %d, seed %d%s.',
               config.name, len(files), batch_size, base_seed,
               ', deterministic' if deterministic else '')

  dataset = _read_records(config, files, input_context, base_seed)
  num_pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline_id = input_context.input_pipeline_id if input_context else 0
  if config.sample_1_of_n_examples > 1:
    dataset = dataset.shard(config.sample_1_of_n_examples, 0)
  if config.shuffle:
    dataset = dataset.shuffle(config.shuffle_buffer_size, seed=base_seed,
                              reshuffle_each_iteration=True)
  dataset = dataset.repeat(config.num_epochs or None)
  dataset = dataset.enumerate()

  example_decoder = decoder_lib.SequenceExampleDecoder(
      label_ids, use_flow=config.use_flow,
      frames_per_clip=config.frames_per_clip,
      frame_stride=config.frame_stride)
  options = None
  if config.HasField('augmentation'):
    if is_training:
      options = augmentation_options(config.augmentation)
    else:
      logging.warning('Input reader %r: augmentation is ignored in '
                      'evaluation.', config.name)
  output_size = (config.image_height, config.image_width)

  # Plain TensorFlow code: autograph conversion would only cost build time.
  @tf.autograph.experimental.do_not_convert
  def process(index, serialized):
    seed = tf.stack([tf.constant(base_seed, tf.int64),
                     index * num_pipelines + pipeline_id])
    tensor_dict, is_complete = example_decoder.decode_with_clip_check(
        serialized)
    tensor_dict = augmentation.augment_and_resize(
        tensor_dict, output_size, options,
        seed if options is not None else None)
    tensor_dict = pad_groundtruth(tensor_dict, config.max_num_boxes)
    tensor_dict[_fields.keyframe] = tf.gather(
        tensor_dict[_fields.frames], tensor_dict[_fields.keyframe_index])
    return tensor_dict, is_complete

  num_parallel_calls = config.num_parallel_calls or tf.data.AUTOTUNE
  dataset = dataset.map(process, num_parallel_calls=num_parallel_calls,
                        deterministic=deterministic or None)
  if config.drop_short_clips:
    dataset = dataset.filter(_is_complete)
  dataset = dataset.map(_drop_clip_check)
  dataset = dataset.batch(batch_size, drop_remainder=is_training)
  dataset = dataset.prefetch(config.prefetch_buffer_size or tf.data.AUTOTUNE)

  dataset_options = tf.data.Options()
  dataset_options.deterministic = deterministic
  return dataset.with_options(dataset_options)


@tf.autograph.experimental.do_not_convert
def _is_complete(unused_tensor_dict, is_complete):
  return is_complete


@tf.autograph.experimental.do_not_convert
def _drop_clip_check(tensor_dict, unused_is_complete):
  return tensor_dict


def _read_records(config, files, input_context, seed):
  """Serialized records, interleaved over the shards of this worker."""
  num_pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline_id = input_context.input_pipeline_id if input_context else 0
  shard_files = num_pipelines > 1 and len(files) >= num_pipelines
  if num_pipelines > 1 and not shard_files:
    logging.warning('Input reader %r: %d files for %d input pipelines; '
                    'sharding examples instead of files (every pipeline reads '
                    'every file).', config.name, len(files), num_pipelines)
  # The files are globbed already (to name the patterns when none match);
  # list_files would glob again and read '[' in a file name as a pattern.
  filenames = tf.data.Dataset.from_tensor_slices(files)
  if shard_files:
    filenames = filenames.shard(num_pipelines, pipeline_id)
  if config.shuffle:
    filenames = filenames.shuffle(len(files), seed=seed,
                                  reshuffle_each_iteration=True)
  cycle_length = max(1, min(config.num_readers, len(files)))
  dataset = filenames.interleave(
      tf.data.TFRecordDataset, cycle_length=cycle_length, block_length=1,
      num_parallel_calls=cycle_length, deterministic=config.deterministic)
  if num_pipelines > 1 and not shard_files:
    dataset = dataset.shard(num_pipelines, pipeline_id)
  return dataset
