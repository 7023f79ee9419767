"""model_speed: config handling and one tiny model timed."""

import os

import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from benchmarks import model_speed

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_ACRN_TINY = os.path.join(_REPO, 'configs', 'synthetic', 'acrn_tiny.config')
_PAPER = os.path.join(_REPO, 'configs', 'ava', 'acrn_s3dg_v2.1.config')


def test_paper_specs_set_the_actor_count_and_strip_the_relation_module():
  specs = model_speed.default_specs('base.config', 'acrn.config', _PAPER,
                                    paper_num_actors=7)
  assert [s.name for s in specs] == ['Base-Model tiny', 'ACRN tiny',
                                     'Base-Model paper', 'ACRN paper']
  base_paper, acrn_paper = specs[2:]
  pipeline, reader = model_speed.load_model_config(base_paper)
  rcnn = pipeline.model.video_faster_rcnn
  assert not rcnn.HasField('relation_module')
  assert rcnn.actor_detector.rpn.num_proposals_eval == 7
  assert (reader.frames_per_clip, reader.image_height, reader.image_width,
          reader.use_flow) == (20, 320, 400, True)
  pipeline, _ = model_speed.load_model_config(acrn_paper)
  assert pipeline.model.video_faster_rcnn.relation_module.HasField('acrn')
  assert [s.name for s in model_speed.default_specs('b', 'a', None)] == [
      'Base-Model tiny', 'ACRN tiny']


class _FakeModel:
  """preprocess/predict/postprocess with as many proposals as configured."""

  def __init__(self, num_proposals, image_size):
    self.num_proposals = num_proposals
    self.image_size = image_size
    self.seen_keys = None

  def preprocess(self, inputs):
    self.seen_keys = sorted(inputs)
    return {fields.InputDataFields.frames: tf.cast(
        inputs[fields.InputDataFields.frames], tf.float32) / 255.0}

  def predict(self, preprocessed, training):
    assert not training
    level = tf.reduce_mean(preprocessed[fields.InputDataFields.frames])
    return {fields.PredictionFields.proposal_boxes:
                tf.fill([1, self.num_proposals, 4], level)}

  def postprocess(self, predictions):
    return {fields.DetectionResultFields.detection_boxes:
                predictions[fields.PredictionFields.proposal_boxes]}


class _FakeBuilder:
  """Stands in for model_builder: records what it was asked to build."""

  def __init__(self):
    self.models = []

  def build(self, model_config, is_training, image_size=None):
    assert not is_training
    rpn = model_config.video_faster_rcnn.actor_detector.rpn
    self.models.append(_FakeModel(rpn.num_proposals_eval, image_size))
    return self.models[-1]


def test_inference_timing_with_a_stand_in_model(monkeypatch):
  # The real models take tens of seconds to trace on a small CPU; the CLI
  # run times them. Here a stand-in checks what is fed and what is reported.
  builder = _FakeBuilder()
  monkeypatch.setattr(model_speed.model_builder, 'build', builder.build)
  spec = model_speed.ModelSpec(
      'ACRN paper', _PAPER, overrides=(f'{model_speed.NUM_PROPOSALS_FIELD}=3',),
      clip_shape=(4, 32, 48))
  result = model_speed.measure_model_inference(
      spec, xla_modes=(False, True), num_repeats=2, num_warmup=1)
  (model,) = builder.models
  assert model.image_size == (32, 48)
  # The paper config is two-stream: a flow clip is fed beside the frames.
  assert model.seen_keys == sorted([fields.InputDataFields.frames,
                                    fields.InputDataFields.flow])
  assert result.model_class == '_FakeModel'
  assert result.clip_shape == (4, 32, 48) and result.reduced_input
  assert result.use_flow and result.num_actors == 3
  assert [m.name for m in result.modes] == ['no xla', 'xla']
  assert all(m.error is None and m.stats.num_repeats == 2
             for m in result.modes)
