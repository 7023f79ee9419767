"""Relation readout: does F hold the partner; does a relation module read it?

A benchmark run takes ten minutes per model to say that a relation class
stayed at chance; this answers the two questions behind it in minutes, on
features cached once from a trained run:

1. `extract` runs the run's feature extractor and actor head over a split's
   records and keeps, per keyframe, the scene map F (the feature endpoint,
   e.g. Mixed_4f, [h, w, c]) and, per groundtruth box, the actor feature f_a
   (the actor head on the box's crop of F), its box and its labels.
2. `linear_readout` trains a logistic classifier on f_a alone and on
   [f_a; F's column at the box's centre; F's columns at given horizontal
   offsets] (each column averaged over the map's rows). If the second
   reaches a relation class that the first does not, F holds what decides
   it at those offsets: the data's partner cue survives the backbone.
3. `relation_module_readout` trains a relation module (built from a
   pipeline config's relation_module, fresh) and a linear classifier on
   [f_a; f_RN] over the cached F, with the benchmark's optimizer, and
   records test AP every few steps: whether, and after how many steps, the
   module learns to read what the linear readout found.

Both classifiers are trained here because no library piece fits: the
model's classifier reads proposals of a whole detection model, and these
read cached groundtruth actors only. AP is the evaluator's
(`average_precision`), over the test split's groundtruth actors.
"""

import dataclasses
import json
import os
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from acrn_tf.builders import config_util
from acrn_tf.builders import dataset_builder
from acrn_tf.builders import model_builder
from acrn_tf.builders import relation_builder
from acrn_tf.core import standard_fields as fields
from acrn_tf.evaluation import average_precision
from acrn_tf.protos import pipeline_pb2

_OPTIMIZERS = {
    'momentum': lambda rate: tf_keras.optimizers.SGD(rate, momentum=0.9),
    'adam': tf_keras.optimizers.Adam,
}
_INPUT = fields.InputDataFields
_PREDICTION = fields.PredictionFields


@dataclasses.dataclass
class CachedFeatures:
  """Features of one split, per keyframe and groundtruth box.

  Attributes:
    scene_maps: float32 [K, h, w, c], F of each keyframe's clip.
    actor_features: float32 [K, M, d], f_a of each groundtruth box.
    boxes: float32 [K, M, 4] normalised [ymin, xmin, ymax, xmax].
    labels: float32 [K, M, C] multi-hot.
    valid: bool [K, M], False for padding.
    endpoint: the endpoint F was taken at.
  """
  scene_maps: np.ndarray
  actor_features: np.ndarray
  boxes: np.ndarray
  labels: np.ndarray
  valid: np.ndarray
  endpoint: str

  @property
  def num_actors(self) -> int:
    return int(self.valid.sum())


def extract(config: pipeline_pb2.TrainEvalPipelineConfig,
            checkpoint_path: str, input_pattern: str,
            max_keyframes: int = 0, batch_size: int = 4,
            progress: Optional[Callable[[str], None]] = None
            ) -> CachedFeatures:
  """Caches F and the groundtruth actors' f_a of a split (see the module).

  Args:
    config: the run's pipeline config (its model and eval input reader).
    checkpoint_path: the run's checkpoint.
    input_pattern: the split's records (a glob).
    max_keyframes: stop after this many keyframes (0: the whole split).
    batch_size: clips per forward pass.
    progress: called with a line now and then.

  Keyframes keep at most the eval input reader's max_num_boxes actors, as
  in evaluation.

  Raises:
    ValueError: the records hold no keyframe.
  """
  # The eval input reader of a copy, pointed at the split's records.
  copy = pipeline_pb2.TrainEvalPipelineConfig()
  copy.CopyFrom(config)
  reader = config_util.eval_input_reader(copy)
  del reader.tf_record_input_reader.input_path[:]
  reader.tf_record_input_reader.input_path.append(input_pattern)
  reader.num_epochs = 1
  reader.shuffle = False
  model = model_builder.build_with_variables(config, reader,
                                             is_training=False)
  tf.train.Checkpoint(model=model).read(checkpoint_path).expect_partial()
  endpoint = model.feature_extractor_endpoint
  dataset = dataset_builder.build(reader, batch_size, is_training=False)

  @tf.function
  def features(batch):
    preprocessed = model.preprocess(batch)
    rgb = preprocessed.get(_INPUT.frames)
    flow = preprocessed.get(_INPUT.flow)
    scene = model.feature_extractor(rgb=rgb, flow=flow, training=False)
    feature_map = scene[_PREDICTION.feature_map]
    feature_maps = dict(scene[_PREDICTION.scene_feature_maps])
    feature_maps[endpoint] = feature_map
    actor_features = model.actor_features(
        feature_maps, tf.cast(batch[_INPUT.groundtruth_boxes], tf.float32),
        tf.shape(rgb if rgb is not None else flow)[2:4])
    return (tf.cast(feature_map, tf.float32),
            tf.cast(actor_features, tf.float32))

  parts = {name: [] for name in ('maps', 'actors', 'boxes', 'labels',
                                 'valid')}
  count, start = 0, time.time()
  for batch in dataset:
    numeric = {k: v for k, v in batch.items() if v.dtype != tf.string}
    maps, actors = features(numeric)
    parts['maps'].append(maps.numpy())
    parts['actors'].append(actors.numpy())
    parts['boxes'].append(numeric[_INPUT.groundtruth_boxes].numpy())
    parts['labels'].append(numeric[_INPUT.groundtruth_classes].numpy())
    parts['valid'].append(numeric[_INPUT.groundtruth_valid].numpy())
    count += len(parts['valid'][-1])
    if progress and (len(parts['maps']) % 25 == 0):
      progress(f'{input_pattern}: {count} keyframes cached, '
               f'{time.time() - start:.0f} s')
    if max_keyframes and count >= max_keyframes:
      break
  if not count:
    raise ValueError(f'{input_pattern}: no keyframe in these records')
  limit = max_keyframes or count
  cat = lambda name: np.concatenate(parts[name])[:limit]
  return CachedFeatures(
      scene_maps=cat('maps'), actor_features=cat('actors'),
      boxes=cat('boxes').astype(np.float32),
      labels=cat('labels').astype(np.float32),
      valid=cat('valid').astype(bool), endpoint=endpoint)


def save_cache(path: str, cache: CachedFeatures, source: Mapping[str, str]
               ) -> None:
  """Writes `cache` and what it was cached from to `path` (.npz), whole."""
  temporary = path + '.tmp.npz'
  np.savez(temporary, scene_maps=cache.scene_maps,
           actor_features=cache.actor_features, boxes=cache.boxes,
           labels=cache.labels, valid=cache.valid,
           endpoint=np.array(cache.endpoint),
           source=np.array(json.dumps(dict(source), sort_keys=True)))
  os.replace(temporary, path)


def load_cache(path: str, source: Mapping[str, str]
               ) -> Optional[CachedFeatures]:
  """The cache at `path` if it was made from `source`, else None."""
  if not os.path.exists(path):
    return None
  with np.load(path) as data:
    if str(data['source']) != json.dumps(dict(source), sort_keys=True):
      return None
    return CachedFeatures(
        scene_maps=data['scene_maps'], actor_features=data['actor_features'],
        boxes=data['boxes'], labels=data['labels'], valid=data['valid'],
        endpoint=str(data['endpoint']))


def cached_features(config: pipeline_pb2.TrainEvalPipelineConfig,
                    checkpoint_path: str, input_pattern: str,
                    max_keyframes: int = 0, cache_path: Optional[str] = None,
                    progress: Optional[Callable[[str], None]] = None
                    ) -> CachedFeatures:
  """`extract`, or the features `save_cache` kept at `cache_path` for the
  same checkpoint, records and max_keyframes (then kept there)."""
  source = {'checkpoint': checkpoint_path, 'records': input_pattern,
            'max_keyframes': str(max_keyframes)}
  if cache_path:
    cache = load_cache(cache_path, source)
    if cache is not None:
      if progress:
        progress(f'features of {input_pattern} read from {cache_path}')
      return cache
  cache = extract(config, checkpoint_path, input_pattern,
                  max_keyframes=max_keyframes, progress=progress)
  if cache_path:
    os.makedirs(os.path.dirname(cache_path) or '.', exist_ok=True)
    save_cache(cache_path, cache, source)
  return cache


def class_aps(scores: np.ndarray, labels: np.ndarray,
              class_names: Sequence[str]) -> Dict[str, Optional[float]]:
  """AP (%) of each class over actors; None for a class with no positive.

  Args:
    scores: float [N, C]; labels: multi-hot [N, C]; class_names: C names.
  """
  if scores.shape != labels.shape or scores.shape[1] != len(class_names):
    raise ValueError(f'scores {scores.shape}, labels {labels.shape} and '
                     f'{len(class_names)} class names do not agree')
  aps = {}
  for c, name in enumerate(class_names):
    positives = labels[:, c] > 0
    if not positives.any():
      aps[name] = None
      continue
    precision, recall = average_precision.precision_recall(
        scores[:, c], positives, int(positives.sum()))
    aps[name] = 100.0 * average_precision.average_precision(precision,
                                                             recall)
  return aps


def offset_columns(boxes: np.ndarray, map_width: int,
                   offsets: Sequence[float]) -> np.ndarray:
  """Columns of a width-`map_width` map at each box's centre + offsets.

  Args:
    boxes: [N, 4] normalised boxes.
    map_width: the scene map's width in cells.
    offsets: horizontal offsets, as fractions of the frame's width.

  Returns:
    int [N, len(offsets)], -1 where the place lies outside the map.
  """
  centres = (boxes[:, 1] + boxes[:, 3]) / 2.0
  places = centres[:, None] + np.asarray(offsets, np.float64)[None, :]
  columns = np.floor(places * map_width).astype(np.int64)
  return np.where((places >= 0.0) & (places < 1.0), columns, -1)


def readout_inputs(cache: CachedFeatures, offsets: Sequence[float],
                   with_scene: bool = True) -> np.ndarray:
  """[N, d] per valid actor: f_a, then F's column at 0 and each offset.

  A column is F averaged over the map's rows; outside the map, zeros.
  """
  keyframes, slots = np.nonzero(cache.valid)
  parts = [cache.actor_features[keyframes, slots]]
  if with_scene:
    width = cache.scene_maps.shape[2]
    columns = offset_columns(cache.boxes[keyframes, slots], width,
                             [0.0] + list(offsets))
    per_column = cache.scene_maps.mean(axis=1)   # [K, w, c]
    for i in range(columns.shape[1]):
      inside = columns[:, i] >= 0
      values = per_column[keyframes, np.maximum(columns[:, i], 0)]
      parts.append(np.where(inside[:, None], values, 0.0))
  return np.concatenate(parts, axis=-1).astype(np.float32)


def _actor_labels(cache: CachedFeatures) -> np.ndarray:
  return cache.labels[cache.valid]


def linear_readout(train: CachedFeatures, test: CachedFeatures,
                   class_names: Sequence[str], offsets: Sequence[float],
                   with_scene: bool = True, steps: int = 1500,
                   learning_rate: float = 1e-3, seed: int = 0
                   ) -> Dict[str, Optional[float]]:
  """Test AP per class of a logistic classifier on `readout_inputs`.

  Full-batch Adam on the standardised inputs (the training split's mean
  and deviation), with a small L2 penalty.
  """
  x_train = readout_inputs(train, offsets, with_scene)
  x_test = readout_inputs(test, offsets, with_scene)
  mean, deviation = x_train.mean(0), x_train.std(0) + 1e-6
  x_train = tf.constant((x_train - mean) / deviation)
  x_test = (x_test - mean) / deviation
  y_train = tf.constant(_actor_labels(train))
  rng = np.random.default_rng(seed)
  kernel = tf.Variable(rng.normal(0.0, 1e-3, (x_train.shape[1],
                                              len(class_names)))
                       .astype(np.float32))
  bias = tf.Variable(tf.zeros([len(class_names)]))
  optimizer = tf_keras.optimizers.Adam(learning_rate)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      logits = tf.matmul(x_train, kernel) + bias
      loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
          labels=y_train, logits=logits))
      loss += 1e-4 * tf.reduce_sum(tf.square(kernel))
    optimizer.apply_gradients(zip(tape.gradient(loss, [kernel, bias]),
                                  [kernel, bias]))

  for _ in range(steps):
    step()
  scores = x_test @ kernel.numpy() + bias.numpy()
  return class_aps(scores, _actor_labels(test), class_names)


class _RelationClassifier(tf_keras.Model):
  """A relation module and a linear classifier on [f_a; f_RN]."""

  def __init__(self, relation, num_classes):
    super().__init__()
    self.relation = relation
    self.classifier = tf_keras.layers.Dense(num_classes, name='classifier')

  def call(self, actor_features, boxes, scene_maps, training=None):
    outputs = self.relation(actor_features, boxes, scene_maps,
                            training=training)
    return self.classifier(tf.concat(
        [actor_features, outputs.relation_features], axis=-1))


def relation_module_readout(
    train: CachedFeatures, test: CachedFeatures,
    config: pipeline_pb2.TrainEvalPipelineConfig,
    class_names: Sequence[str], steps: int = 2000, batch_size: int = 16,
    learning_rate: float = 0.02, optimizer: str = 'momentum',
    eval_every: int = 250, seed: int = 0,
    progress: Optional[Callable[[str], None]] = None
) -> List[Dict]:
  """Trains `config`'s relation module + a classifier on the cache.

  Each step takes `batch_size` groundtruth actors, each from a random
  keyframe (one actor per scene map), and minimises the sigmoid
  cross-entropy summed over classes at a constant learning rate, with
  `optimizer` 'momentum' (SGD, momentum 0.9: the benchmark's) or 'adam'.

  Returns:
    [{'step': s, 'ap': {class: AP or None}}] every `eval_every` steps.

  Raises:
    ValueError: the relation module adds no relation feature (none,
      resize_concat), reads a scene endpoint the cache does not hold, an
      unknown optimizer, or a count below 1.
  """
  for name, value in (('steps', steps), ('batch_size', batch_size),
                      ('eval_every', eval_every)):
    if value < 1:
      raise ValueError(f'{name} must be >= 1, got {value}')
  if optimizer not in _OPTIMIZERS:
    raise ValueError(f'optimizer {optimizer!r}: expected one of '
                     f'{sorted(_OPTIMIZERS)}')
  meta = config.model.video_faster_rcnn
  relation = relation_builder.build_relation_module(
      meta.relation_module, meta.feature_extractor, meta.action_head)
  if relation.output_channels == 0:
    name = meta.relation_module.WhichOneof('relation_module_oneof')
    raise ValueError(
        f'relation_module {name!r} adds no relation feature to the '
        'classifier: the readout trains santoro or acrn.')
  missing = [e for e in relation.scene_endpoints if e != train.endpoint]
  if missing:
    raise ValueError(
        f'relation_module reads scene maps at {missing}; the cache holds '
        f'only {train.endpoint}.')
  tf_keras.utils.set_random_seed(seed)
  model = _RelationClassifier(relation, len(class_names))
  optimizer = _OPTIMIZERS[optimizer](learning_rate)
  endpoint = train.endpoint

  @tf.function
  def step(actors, boxes, maps, labels):
    with tf.GradientTape() as tape:
      logits = model(actors, boxes, {endpoint: maps}, training=True)
      loss = tf.reduce_mean(tf.reduce_sum(
          tf.nn.sigmoid_cross_entropy_with_logits(labels=labels,
                                                  logits=logits), -1))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables),
                                  variables))
    return loss

  @tf.function
  def predict(actors, boxes, maps):
    return tf.sigmoid(model(actors, boxes, {endpoint: maps}, training=False))

  def evaluate():
    keyframes, slots = np.nonzero(test.valid)
    scores = []
    for i in range(0, len(keyframes), 32):
      k, s = keyframes[i:i + 32], slots[i:i + 32]
      scores.append(predict(test.actor_features[k, s][:, None],
                            test.boxes[k, s][:, None],
                            test.scene_maps[k]).numpy()[:, 0])
    return class_aps(np.concatenate(scores), test.labels[keyframes, slots],
                     class_names)

  keyframes, slots = np.nonzero(train.valid)
  rng = np.random.default_rng(seed)
  curve, losses, start = [], [], time.time()
  for s in range(1, steps + 1):
    pick = rng.choice(len(keyframes), batch_size,
                      replace=len(keyframes) < batch_size)
    k, j = keyframes[pick], slots[pick]
    losses.append(float(step(train.actor_features[k, j][:, None],
                             train.boxes[k, j][:, None], train.scene_maps[k],
                             train.labels[k, j][:, None])))
    if s % eval_every == 0 or s == steps:
      curve.append({'step': s, 'loss': float(np.mean(losses[-eval_every:])),
                    'ap': evaluate()})
      if progress:
        shown = ', '.join(f'{n} {v:.1f}' for n, v in curve[-1]['ap'].items()
                          if v is not None)
        progress(f'relation module: step {s}/{steps}, loss '
                 f'{curve[-1]["loss"]:.3f}, test AP: {shown} '
                 f'({time.time() - start:.0f} s)')
  return curve


def relation_map(aps: Mapping[str, Optional[float]],
                 relation_classes: Sequence[str]) -> Optional[float]:
  """Mean AP of the relation classes present, or None."""
  values = [aps[c] for c in relation_classes if aps.get(c) is not None]
  return float(np.mean(values)) if values else None
