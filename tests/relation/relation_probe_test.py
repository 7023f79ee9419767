"""A relation probe: ACRN learns a label that only a relation decides.

The data is built by hand so that nothing but a relation decides the label:

  * the scene map F is [H, W, C]: background cells hold a background
    channel; two cells of the actor's row hold an object, one of colour 0
    and one of colour 1, 2 `_OFFSET` cells apart: the faced one `_OFFSET`
    cells from the actor on the side it faces, the other as far on the
    other side or `_OFFSET` cells beyond the faced one;
  * the actor feature f_a is noise plus one channel that says which way the
    actor faces (+1 right, -1 left), and its box is the only thing that says
    where it stands (its cell of F is background);
  * the label is the colour of the object the actor faces.

Both colours are in every scene, so a global summary of F says nothing, and
neither does the objects' order or distance without the actor's position;
f_a alone gives the facing but not the colour, so a classifier of f_a (the
Base-Model's) stays at chance (50 %). ACRN relates f_a, the actor's box and
each cell with its location (g_theta), then its head and average pooling,
and must learn it. This guards the relation path end to end: the tiling of
f_a and its box over the map, the location channels, the normalise-and-
rescale, g_theta's once-per-image decomposition and the gradient multiplier
(its scaling of the gradient into F is checked on the same inputs).

Cut, the path fails the 95 %: trained the same way, ACRN scored 50 % with
the scene map zeroed, 71 % with the boxes zeroed and 75 % with the actor
features zeroed before g_theta (each ablation run by hand once). Zeroing
the location channels alone does not stop it at this width: the zero padding
of the head's convolutions also tells where a cell is.

A second probe has two kinds of actor in every batch, whose f_a differ far
more than the relation does (kind means of +6 and -6 on three disjoint
channels each, noise 0.5), as the synthetic stage's throwers, holders and
idle actors do. The
label is positive for a kind-0 actor with an object of colour 0 `_OFFSET`
cells away (either side; the other colour lies 2 `_OFFSET` cells away on
the other side), never for kind 1. g_theta without the actor feature
(`actor_feature_in_g_theta=False`: box, cell and location only; f_a meets
f_RN in the classifier) learns it; the paper's g_theta, which reads f_a,
stays at chance on kind-0 actors (46 %), the Base-Model too. How much the
kinds differ matters: by hand, with means of +-3 the paper's g_theta
escaped for one seed of three with oneDNN off (83 %), with +-1 it reached
84 % and with +-0.5 92 %. Cut (by hand), the variant scored 46 % with
the scene map zeroed and 45 % with the boxes zeroed.
"""

import numpy as np
import tensorflow as tf
import tf_keras

from acrn_tf.relation import acrn

_HEIGHT, _WIDTH = 2, 12
_ACTOR_CHANNELS = 8
# Scene channels: colour 0, colour 1, background. The actor's own cell is
# background: only its box says where it stands.
_SCENE_CHANNELS = 3
_OFFSET = 3
_NUM_CLASSES = 2
_BATCH = 32
_STEPS = 500
_HEAD_CONFIG = dict(depth_multiplier=0.125, min_depth=8, weight_decay=0.0,
                    batch_norm_decay=0.9)


def _probe_batch(rng: np.random.Generator, batch_size: int):
  """(f_a [b, 1, d_a], boxes [b, 1, 4], F [b, H, W, C], labels [b]).

  The actor stands at a random cell; its box covers that cell (normalised).
  The faced object lies `_OFFSET` cells away on the side the actor faces.
  The other object lies either as far on the other side or `_OFFSET` cells
  beyond the faced one: both ways the two objects are 2 `_OFFSET` apart, so
  neither their order nor their distance tells which is faced without the
  actor's position.
  """
  facing = np.where(rng.random(batch_size) < 0.5, 1, -1)
  beyond = rng.random(batch_size) < 0.5
  labels = rng.integers(0, _NUM_CLASSES, batch_size).astype(np.int32)
  scene = np.zeros((batch_size, _HEIGHT, _WIDTH, _SCENE_CHANNELS), np.float32)
  scene[..., 2] = 1.0
  scene += 0.05 * rng.standard_normal(scene.shape).astype(np.float32)
  actors = 0.5 * rng.standard_normal(
      (batch_size, 1, _ACTOR_CHANNELS)).astype(np.float32)
  actors[:, 0, 0] = facing
  boxes = np.zeros((batch_size, 1, 4), np.float32)
  colours = np.eye(_SCENE_CHANNELS, dtype=np.float32)
  for i in range(batch_size):
    faced = facing[i] * _OFFSET
    other = facing[i] * (3 * _OFFSET if beyond[i] else -_OFFSET)
    # The actor's column: it and both objects in the frame.
    low = -min(0, faced, other)
    high = _WIDTH - 1 - max(0, faced, other)
    r = rng.integers(0, _HEIGHT)
    c = rng.integers(low, high + 1)
    scene[i, r, c + faced] = colours[labels[i]]
    scene[i, r, c + other] = colours[1 - labels[i]]
    boxes[i, 0] = (r / _HEIGHT, c / _WIDTH, (r + 1) / _HEIGHT,
                   (c + 1) / _WIDTH)
  return actors, boxes, scene, labels


class _ProbeClassifier(tf_keras.Model):
  """A linear classifier over [f_a; f_RN] (ACRN) or f_a alone (Base)."""

  def __init__(self, relation: bool, **relation_kwargs):
    super().__init__()
    self.relation_module = (
        acrn.ActorCentricRelation(relation_channels=32,
                                  head_config=_HEAD_CONFIG,
                                  scene_features=[('F', 1.0)],
                                  **relation_kwargs)
        if relation else None)
    self.classifier = tf_keras.layers.Dense(_NUM_CLASSES)

  def call(self, inputs, training=None):
    actors, boxes, scene = inputs
    features = actors
    if self.relation_module is not None:
      outputs = self.relation_module(actors, boxes, {'F': scene},
                                     training=training)
      features = tf.concat([actors, outputs.relation_features], axis=-1)
    return self.classifier(features)[:, 0]


def _fit(model: _ProbeClassifier, make_batch, seed: int):
  """Trains `_STEPS` steps of Adam on fresh batches of make_batch(rng, n)."""
  rng = np.random.default_rng(seed)
  optimizer = tf_keras.optimizers.Adam(5e-3)
  loss_fn = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)

  @tf.function
  def step(actors, boxes, scene, labels):
    with tf.GradientTape() as tape:
      loss = loss_fn(labels, model((actors, boxes, scene), training=True))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

  for _ in range(_STEPS):
    step(*make_batch(rng, _BATCH)[:4])


def _train_and_score(model: _ProbeClassifier, seed: int) -> float:
  """Trains `_STEPS` steps of Adam on fresh batches; test accuracy."""
  _fit(model, _probe_batch, seed)
  actors, boxes, scene, labels = _probe_batch(
      np.random.default_rng(seed + 1000), 512)
  logits = model((actors, boxes, scene), training=False)
  return float(np.mean(np.argmax(logits.numpy(), -1) == labels))


def test_probe_labels_are_decided_by_the_faced_object_only():
  actors, _, scene, labels = _probe_batch(np.random.default_rng(0), 2000)
  # Both colours lie in every scene, so a global summary cannot decide.
  assert np.all(scene[..., 0].max(axis=(1, 2)) > 0.9)
  assert np.all(scene[..., 1].max(axis=(1, 2)) > 0.9)
  # The facing alone agrees with the label half the time, and so does the
  # order of the colours.
  facing_right = actors[:, 0, 0] > 0
  assert 0.45 < np.mean(facing_right == (labels == 0)) < 0.55
  colour0_right = (np.argmax(scene[..., 0].max(axis=1), axis=-1) >
                   np.argmax(scene[..., 1].max(axis=1), axis=-1))
  assert 0.45 < np.mean((colour0_right == facing_right) ==
                        (labels == 0)) < 0.55


def test_acrn_learns_the_relation_and_the_base_model_cannot():
  tf_keras.utils.set_random_seed(1)
  acrn_accuracy = _train_and_score(_ProbeClassifier(relation=True), seed=0)
  tf_keras.utils.set_random_seed(1)
  base_accuracy = _train_and_score(_ProbeClassifier(relation=False), seed=0)
  assert acrn_accuracy >= 0.95, acrn_accuracy
  assert base_accuracy <= 0.6, base_accuracy


def test_without_the_actor_feature_the_faced_object_is_not_learned():
  # The label pairs the facing (in f_a) with what lies on that side: a
  # product the classifier over [f_a; f_RN] cannot form once g_theta no
  # longer reads f_a (76 % by hand, against >= 95 % above).
  tf_keras.utils.set_random_seed(1)
  accuracy = _train_and_score(
      _ProbeClassifier(relation=True, actor_feature_in_g_theta=False), seed=0)
  assert accuracy <= 0.85, accuracy


def _two_kinds_batch(rng: np.random.Generator, batch_size: int):
  """(f_a, boxes, F, labels, kinds) of the two-kinds probe (module doc)."""
  kinds = rng.integers(0, 2, batch_size)
  near_colour = rng.integers(0, 2, batch_size)
  side = np.where(rng.random(batch_size) < 0.5, 1, -1)
  labels = ((kinds == 0) & (near_colour == 0)).astype(np.int32)
  scene = np.zeros((batch_size, _HEIGHT, _WIDTH, _SCENE_CHANNELS),
                   np.float32)
  scene[..., 2] = 1.0
  scene += 0.05 * rng.standard_normal(scene.shape).astype(np.float32)
  kind_means = np.zeros((2, _ACTOR_CHANNELS), np.float32)
  kind_means[0, 1:4] = 6.0
  kind_means[1, 4:7] = -6.0
  actors = (kind_means[kinds] + 0.5 * rng.standard_normal(
      (batch_size, _ACTOR_CHANNELS))).astype(np.float32)[:, None]
  boxes = np.zeros((batch_size, 1, 4), np.float32)
  colours = np.eye(_SCENE_CHANNELS, dtype=np.float32)
  for i in range(batch_size):
    near = side[i] * _OFFSET
    far = -side[i] * 2 * _OFFSET
    r = rng.integers(0, _HEIGHT)
    c = rng.integers(-min(near, far), _WIDTH - max(near, far))
    scene[i, r, c + near] = colours[near_colour[i]]
    scene[i, r, c + far] = colours[1 - near_colour[i]]
    boxes[i, 0] = (r / _HEIGHT, c / _WIDTH, (r + 1) / _HEIGHT,
                   (c + 1) / _WIDTH)
  return actors, boxes, scene, labels, kinds


def _train_two_kinds(model: _ProbeClassifier) -> float:
  """Accuracy on kind-0 test actors after `_STEPS` steps of Adam."""
  _fit(model, _two_kinds_batch, 0)
  actors, boxes, scene, labels, kinds = _two_kinds_batch(
      np.random.default_rng(1000), 1024)
  predicted = np.argmax(
      model((actors, boxes, scene), training=False).numpy(), -1)
  return float(np.mean(predicted[kinds == 0] == labels[kinds == 0]))


def test_two_kinds_probe_is_decided_by_the_near_object_for_kind_0():
  actors, boxes, scene, labels, kinds = _two_kinds_batch(
      np.random.default_rng(0), 2000)
  assert np.all(labels[kinds == 1] == 0)
  assert 0.45 < np.mean(labels[kinds == 0]) < 0.55
  # Both colours lie in every scene; the kinds differ by 6 on 6 channels.
  assert np.all(scene[..., :2].max(axis=(1, 2)) > 0.9)
  gap = actors[kinds == 0, 0].mean(0) - actors[kinds == 1, 0].mean(0)
  np.testing.assert_allclose(np.linalg.norm(gap), 6 * np.sqrt(6), rtol=0.05)
  # For kind 0 the label is "colour 0 lies _OFFSET cells from the actor",
  # on its right or its left about equally often.
  columns = np.round(boxes[:, 0, 1] * _WIDTH).astype(int)
  rows = np.round(boxes[:, 0, 0] * _HEIGHT).astype(int)

  def colour0_at(offset):
    return np.array([0 <= c + offset < _WIDTH and scene[i, r, c + offset, 0]
                     > 0.9 for i, (r, c) in enumerate(zip(rows, columns))])

  right, left = colour0_at(_OFFSET), colour0_at(-_OFFSET)
  first = kinds == 0
  np.testing.assert_array_equal(labels[first], (right | left)[first])
  assert 0.4 < np.mean(right[first & (labels == 1)]) < 0.6


def test_g_theta_without_the_actor_feature_learns_the_two_kinds_probe():
  tf_keras.utils.set_random_seed(1)
  accuracy = _train_two_kinds(
      _ProbeClassifier(relation=True, actor_feature_in_g_theta=False))
  tf_keras.utils.set_random_seed(1)
  base_accuracy = _train_two_kinds(_ProbeClassifier(relation=False))
  assert accuracy >= 0.95, accuracy
  assert base_accuracy <= 0.6, base_accuracy


def test_the_papers_g_theta_does_not_learn_the_two_kinds_probe():
  # Why the option exists: with f_a tiled into g_theta (paper eq. 2) the
  # same training stays at chance on kind-0 actors (46 % for seeds 1 to 3,
  # oneDNN on and off, by hand). Should it learn the probe one day, the
  # docs citing it (docs/synthetic_dataset.md) need revisiting.
  tf_keras.utils.set_random_seed(1)
  accuracy = _train_two_kinds(_ProbeClassifier(relation=True))
  assert accuracy <= 0.6, accuracy


def test_the_probe_scales_the_gradient_into_the_scene_map():
  actors, boxes, scene, labels = _probe_batch(np.random.default_rng(2), 8)
  scene = tf.constant(scene)
  gradients = []
  for multiplier in (1.0, 0.01):
    tf_keras.utils.set_random_seed(3)
    model = _ProbeClassifier(relation=True, gradient_multiplier=multiplier)
    with tf.GradientTape() as tape:
      tape.watch(scene)
      logits = model((actors, boxes, scene), training=False)
      loss = tf.reduce_sum(tf.gather(logits, labels, axis=-1, batch_dims=1))
    gradients.append(tape.gradient(loss, scene).numpy())
  assert np.abs(gradients[0]).max() > 0
  np.testing.assert_allclose(gradients[1], 0.01 * gradients[0], rtol=1e-4,
                             atol=1e-9)
