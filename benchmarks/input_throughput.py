"""How fast the input pipeline delivers batches, and records to measure it on.

`measure_throughput` times any batched dataset (the `benchmark_input` CLI
and the `speed` benchmark's input section both use it).
`measure_input_pipeline` builds the train input pipeline of a
pipeline.config with `dataset_builder` and times it; when the config's
records do not exist (a fresh checkout), it writes synthetic records of the
reader's clip size to a scratch directory first and says so.
"""

import dataclasses
import glob
import os
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import dataset_builder
from acrn_tf.core import standard_fields
from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import sequence_example_writer


def measure_throughput(dataset: tf.data.Dataset, num_batches: int,
                       warmup_batches: int = 0) -> Dict[str, float]:
  """Pulls batches from `dataset` and times them after a warm-up.

  Args:
    dataset: batched dicts keyed by `InputDataFields` (frames leading).
    num_batches: batches to time (fewer if the dataset ends first).
    warmup_batches: batches pulled before the clock starts.

  Returns:
    num_batches, num_examples, seconds, examples_per_second,
    batches_per_second and warmup_seconds of the timed part.

  Raises:
    ValueError: if the dataset ends before any batch could be timed.
  """
  iterator = iter(dataset)
  start = time.perf_counter()
  for _ in range(warmup_batches):
    if next(iterator, None) is None:
      break
  warmup_seconds = time.perf_counter() - start
  num_timed = 0
  num_examples = 0
  start = time.perf_counter()
  for _ in range(num_batches):
    batch = next(iterator, None)
    if batch is None:
      break
    num_timed += 1
    num_examples += int(batch[standard_fields.InputDataFields.frames].shape[0])
  seconds = time.perf_counter() - start
  if num_timed == 0:
    raise ValueError(f'the dataset ended within the {warmup_batches} warm-up '
                     f'batches: nothing to time (use fewer warm-up batches or '
                     f'more records / epochs)')
  return {
      'num_batches': num_timed,
      'num_examples': num_examples,
      'seconds': seconds,
      'examples_per_second': num_examples / seconds,
      'batches_per_second': num_timed / seconds,
      'warmup_seconds': warmup_seconds,
  }


def _smooth_frames(rng: np.random.Generator, num_frames: int, height: int,
                   width: int) -> np.ndarray:
  """uint8 [T, H, W, 3] frames: a moving gradient plus noise."""
  y = np.linspace(0.0, 1.0, height)[:, None, None]
  x = np.linspace(0.0, 1.0, width)[None, :, None]
  colour = rng.uniform(40.0, 200.0, size=3)
  frames = []
  for t in range(num_frames):
    image = colour + 50.0 * (x + y) + 5.0 * t
    image = image + rng.normal(0.0, 8.0, size=(height, width, 3))
    frames.append(image)
  return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def write_benchmark_records(directory: str, num_records: int,
                            num_frames: int, height: int, width: int,
                            num_classes: int, num_shards: int = 2,
                            seed: int = 0) -> str:
  """Writes `num_records` keyframe records of random clips; returns a glob.

  Each record has `num_frames` JPEG frames of height x width, the keyframe
  in the middle, and 1 to 3 actors with 1 or 2 labels among 1..num_classes,
  per `standard_fields.SequenceExampleKeys` (written by
  `sequence_example_writer`).

  Raises:
    ValueError: a non-positive count or size.
  """
  if min(num_records, num_frames, height, width, num_classes,
         num_shards) < 1:
    raise ValueError(
        f'write_benchmark_records: counts and sizes must be >= 1, got '
        f'{num_records} records, {num_frames}x{height}x{width}, '
        f'{num_classes} classes, {num_shards} shards')
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(seed)
  label_ids = list(range(1, num_classes + 1))
  writers = [tf.io.TFRecordWriter(os.path.join(
      directory, f'bench-{s:05d}-of-{num_shards:05d}.tfrecord'))
             for s in range(num_shards)]
  try:
    for k in range(num_records):
      frames = _smooth_frames(rng, num_frames, height, width)
      num_boxes = 1 + k % 3
      boxes, labels = [], []
      for _ in range(num_boxes):
        ymin, xmin = rng.uniform(0.0, 0.6, size=2)
        boxes.append((float(ymin), float(xmin), float(ymin + 0.3),
                      float(xmin + 0.3)))
        labels.append(sorted({int(v) for v in rng.choice(
            label_ids, size=1 + k % 2)}))
      annotation = annotations.KeyframeAnnotation(
          video_id=f'bench_{k}', video_path='', keyframe_timestamp=float(k),
          boxes=boxes, labels=labels, track_ids=list(range(num_boxes)),
          source=f'benchmark record {k}')
      keyframe_index = num_frames // 2
      clip = sequence_example_writer.EncodedClip(
          frames_encoded=[tf.io.encode_jpeg(f, quality=90).numpy()
                          for f in frames],
          frame_height=height, frame_width=width,
          keyframe_index=keyframe_index, keyframe_frame_number=k * 30,
          keyframe_timestamp=float(k),
          frame_timestamps=[k + (t - keyframe_index) / 30.0
                            for t in range(num_frames)],
          frame_stride=1, fps=30.0)
      example = sequence_example_writer.build_sequence_example(
          annotation, clip, label_ids, check_decodable=False)
      writers[k % num_shards].write(
          sequence_example_writer.serialize(example))
  finally:
    for writer in writers:
      writer.close()
  return os.path.join(directory, 'bench-*.tfrecord')


@dataclasses.dataclass(frozen=True)
class InputPipelineResult:
  """The train input pipeline's rate.

  Attributes:
    config_path: the pipeline.config.
    records: the input paths read.
    synthetic_records: True when the config's records were missing and
      random records of the same clip size were written and read instead.
    batch_size: examples per batch (train_config.batch_size).
    clip_shape: (frames, height, width) per example.
    use_flow: whether flow is decoded too.
    stats: `measure_throughput`'s dict.
  """
  config_path: str
  records: List[str]
  synthetic_records: bool
  batch_size: int
  clip_shape: tuple
  use_flow: bool
  stats: Dict[str, float]

  @property
  def examples_per_second(self) -> float:
    return self.stats['examples_per_second']


def _records_exist(patterns) -> bool:
  return any(glob.glob(p) for p in patterns)


def num_classes_of(pipeline) -> int:
  """Action classes of a pipeline.config's model (label ids 1..n)."""
  return int(pipeline.model.video_faster_rcnn.action_head.num_classes)


def measure_input_pipeline(config_path: str, num_batches: int = 20,
                           warmup_batches: int = 3,
                           scratch_dir: Optional[str] = None,
                           batch_size: Optional[int] = None
                           ) -> InputPipelineResult:
  """Times the config's train input pipeline (training mode, augmented).

  Args:
    config_path: a pipeline.config with a train_input_reader.
    num_batches: batches timed.
    warmup_batches: batches pulled first.
    scratch_dir: where synthetic records go when the config's are missing
      (default: a temporary directory, removed afterwards).
    batch_size: instead of train_config.batch_size.

  Returns:
    `InputPipelineResult`.
  """
  pipeline = config_util.load_pipeline_config(config_path)
  reader = pipeline.train_input_reader
  batch_size = batch_size or pipeline.train_config.batch_size or 8
  paths = list(reader.tf_record_input_reader.input_path)
  label_ids = None if reader.label_map_path and os.path.exists(
      reader.label_map_path) else list(range(1, num_classes_of(pipeline) + 1))
  clip_shape = (reader.frames_per_clip, reader.image_height,
                reader.image_width)
  with tempfile.TemporaryDirectory(dir=scratch_dir) as scratch:
    synthetic = not _records_exist(paths)
    if synthetic:
      # Enough records for the timed and warm-up batches without repeating
      # too often; the pipeline repeats the records.
      num_records = min(4 * batch_size, 64)
      pattern = write_benchmark_records(
          scratch, num_records, reader.frames_per_clip, reader.image_height,
          reader.image_width, num_classes_of(pipeline))
      del reader.tf_record_input_reader.input_path[:]
      reader.tf_record_input_reader.input_path.append(pattern)
      label_ids = list(range(1, num_classes_of(pipeline) + 1))
      if reader.use_flow:
        reader.use_flow = False
    dataset = dataset_builder.build(reader, batch_size, is_training=True,
                                    label_ids=label_ids)
    stats = measure_throughput(dataset, num_batches, warmup_batches)
  return InputPipelineResult(
      config_path=config_path,
      records=list(reader.tf_record_input_reader.input_path),
      synthetic_records=synthetic, batch_size=batch_size,
      clip_shape=clip_shape, use_flow=bool(reader.use_flow), stats=stats)
