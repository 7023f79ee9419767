"""Reading, overriding, validating and writing pipeline.config files."""

import os
import re

import pytest

from acrn_tf.builders import config_util
from acrn_tf.builders import optimizer_builder
from acrn_tf.core import learning_schedules
from acrn_tf.protos import pipeline_pb2
from acrn_tf.protos import s3dg_pb2

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TINY = os.path.join(REPO_ROOT, 'configs', 'synthetic', 'acrn_tiny.config')


def _tiny_text(optimizer='momentum_optimizer'):
  """The tiny config's text; with adam_optimizer, Adam on its schedule."""
  with open(TINY, encoding='utf-8') as f:
    text = f.read()
  if optimizer == 'adam_optimizer':
    for old, new in (('momentum_optimizer {', 'adam_optimizer {'),
                     ('momentum_optimizer_value: 0.9', 'beta2: 0.99')):
      assert old in text, old
      text = text.replace(old, new)
  return text


def _write(tmp_path, text, name='pipeline.config'):
  path = tmp_path / name
  path.write_text(text, encoding='utf-8')
  return str(path)


def _load_with(tmp_path, old, new, optimizer='momentum_optimizer'):
  text = _tiny_text(optimizer)
  assert old in text, old
  return config_util.load_pipeline_config(
      _write(tmp_path, text.replace(old, new, 1)))


def _line_of(text, needle):
  return text[:text.index(needle)].count('\n') + 1


def test_reads_and_validates_the_tiny_config():
  config = config_util.load_pipeline_config(TINY)
  assert config.train_config.batch_size == 4
  assert config.train_input_reader.frames_per_clip == 8


# Parse errors name the file, the line and the field.


def test_misspelled_field_names_field_and_line(tmp_path):
  text = _tiny_text().replace('  batch_size: 4', '  batch_sise: 4')
  path = _write(tmp_path, text)
  line = _line_of(text, 'batch_sise')
  with pytest.raises(config_util.ConfigError) as error:
    config_util.load_pipeline_config(path)
  message = str(error.value)
  assert message.startswith(f'{path}:{line}:3: ')
  assert 'no field named "batch_sise"' in message


def test_wrong_type_names_line(tmp_path):
  text = _tiny_text().replace('  num_steps: 300', '  num_steps: "many"')
  path = _write(tmp_path, text)
  line = _line_of(text, 'num_steps: "many"')
  with pytest.raises(config_util.ConfigError,
                     match=rf'^{path}:{line}:\d+: .*Couldn\'t parse integer'):
    config_util.load_pipeline_config(path)


def test_unknown_enum_value_names_line(tmp_path):
  text = _tiny_text().replace('streams: RGB', 'streams: RGBD')
  path = _write(tmp_path, text)
  line = _line_of(text, 'streams: RGBD')
  with pytest.raises(config_util.ConfigError,
                     match=rf'^{path}:{line}:\d+: .*no value named RGBD'):
    config_util.load_pipeline_config(path)


def test_unreadable_file_is_named(tmp_path):
  missing = str(tmp_path / 'missing.config')
  with pytest.raises(config_util.ConfigError,
                     match=f'^{missing}: cannot read the pipeline config'):
    config_util.load_pipeline_config(missing)


# Impossible values name the field path.


@pytest.mark.parametrize('old,new,expected', [
    ('num_steps: 300', 'num_steps: -5',
     r'train_config\.num_steps: must be >= 0, got -5'),
    ('  frames_per_clip: 8\n  frame_stride: 1\n  image_height: 96\n'
     '  image_width: 128\n  shuffle: true',
     '  frames_per_clip: 0\n  frame_stride: 1\n  image_height: 96\n'
     '  image_width: 128\n  shuffle: true',
     r'train_input_reader\.frames_per_clip: must be >= 1, got 0'),
    ('endpoint: "Mixed_4f"\n        scale', 'endpoint: "Mixed_5c"\n        scale',
     r'relation_module\.scene_features\[0\]\.endpoint: \'Mixed_5c\' is not '
     r'produced by the feature extractor'),
    ('num_classes: 6', 'num_classes: 0',
     r'action_head\.num_classes: must be >= 1, got 0'),
    ('depth_multiplier: 0.25\n      min_depth', 'depth_multiplier: 0.0\n'
     '      min_depth',
     r'feature_extractor\.depth_multiplier: must be > 0, got 0\.0'),
    ('warmup_steps: 30', 'warmup_steps: 3000',
     r'cosine_decay_learning_rate\.warmup_steps: warmup_steps \+ '
     r'hold_base_rate_steps \(3000 \+ 0\) must be <= total_steps \(300\)'),
    ('first_temporal_kernel_size: 3', 'first_temporal_kernel_size: 4',
     r'first_temporal_kernel_size: must be 1, 3, 5 or 7, got 4'),
    ('streams: RGB', 'streams: RGB_AND_FLOW',
     r'train_input_reader\.use_flow: must be true'),
    ('model_id: 18', 'model_id: 19',
     r'backbone\.model_id: must be one of'),
    ('  image_height: 96', '  image_height: 100',
     r'train_input_reader\.image_height: must be a multiple of 16'),
    ('gating_startat: "Mixed_4b"', 'gating_startat: "Mixed_9z"',
     r'gating_startat: must be one of'),
    ('foreground_fraction: 0.5', 'foreground_fraction: 1.5',
     r'action_head\.foreground_fraction: must be in \[0, 1\], got 1\.5'),
    ('  seed: 1', '  fine_tune_checkpoint: "/ckpt"',
     r'train_config\.fine_tune_checkpoint_type: must be set'),
    ('  seed: 1', '  seed: 1\n  relation_head_from_actor_head: true',
     r'train_config\.relation_head_from_actor_head: needs '
     r'fine_tune_checkpoint_type SHARED_PARTS'),
])
def test_impossible_values_name_the_field(tmp_path, old, new, expected):
  with pytest.raises(config_util.ConfigError, match=expected):
    _load_with(tmp_path, old, new)


@pytest.mark.parametrize('field,trained,given', [
    ('frames_per_clip', 8, 4), ('frame_stride', 1, 5)])
def test_eval_clip_must_match_training(tmp_path, field, trained, given):
  text = _tiny_text()
  head, tail = text.split('eval_input_reader {')
  tail = tail.replace(f'{field}: {trained}', f'{field}: {given}')
  path = _write(tmp_path, head + 'eval_input_reader {' + tail)
  with pytest.raises(config_util.ConfigError,
                     match=rf'eval_input_reader\[0\]\.{field}: must '
                     rf'equal train_input_reader\.{field} \({trained}\), '
                     rf'got {given}'):
    config_util.load_pipeline_config(path)


def test_missing_model_is_refused(tmp_path):
  text = _tiny_text()
  start = text.index('model {')
  end = text.index('train_config {')
  path = _write(tmp_path, text[:start] + text[end:])
  with pytest.raises(config_util.ConfigError, match=r': model: is required'):
    config_util.load_pipeline_config(path)


# Overrides.


def test_text_override_replaces_scalars_and_appends_repeated():
  config = config_util.load_pipeline_config(
      TINY, config_override='train_config { batch_size: 2 } '
      'eval_config { iou_thresholds: 0.75 }')
  assert config.train_config.batch_size == 2
  assert list(config.eval_config.iou_thresholds) == [0.5, 0.75]


def test_text_override_parse_error_is_named():
  with pytest.raises(config_util.ConfigError,
                     match=r'^--config_override:1:\d+: .*no field named '
                     r'"batch"'):
    config_util.load_pipeline_config(
        TINY, config_override='train_config { batch: 2 }')


def test_key_value_overrides_every_kind_of_field():
  config = config_util.load_pipeline_config(TINY, overrides=[
      'train_config.batch_size=2',
      'train_config.gradient_clipping_by_norm=5.5',
      'train_input_reader.shuffle=false',
      'model.video_faster_rcnn.feature_extractor.streams=RGB',
      'eval_input_reader[0].label_map_path="/data/label_map.pbtxt"',
      'eval_config.iou_thresholds=0.3,0.5',
  ])
  assert config.train_config.batch_size == 2
  assert config.train_config.gradient_clipping_by_norm == pytest.approx(5.5)
  assert not config.train_input_reader.shuffle
  assert (config.model.video_faster_rcnn.feature_extractor.streams ==
          s3dg_pb2.S3dgFeatureExtractor.RGB)
  assert config.eval_input_reader[0].label_map_path == '/data/label_map.pbtxt'
  assert list(config.eval_config.iou_thresholds) == pytest.approx([0.3, 0.5])


@pytest.mark.parametrize('override,expected', [
    ('train_config.batch_sise=2',
     r"override 'train_config.batch_sise=2': train_config has no field "
     r"'batch_sise'"),
    ('train_config.batch_size=two',
     r"batch_size expects an integer, got 'two'"),
    ('train_input_reader.shuffle=maybe', r'shuffle expects a boolean'),
    ('model.video_faster_rcnn.feature_extractor.streams=RGBD',
     r'streams takes one of RGB, FLOW, RGB_AND_FLOW, got \'RGBD\''),
    ('eval_input_reader[3].frames_per_clip=2', r'index 3 is out of range'),
    ('train_config', r'expected field\.path=value'),
    ('train_config.optimizer=1', r'is a message'),
])
def test_bad_key_value_overrides(override, expected):
  with pytest.raises(config_util.ConfigError, match=expected):
    config_util.load_pipeline_config(TINY, overrides=[override])


def test_override_producing_an_impossible_value_is_refused():
  with pytest.raises(config_util.ConfigError,
                     match=r'train_config\.batch_size: must be >= 1, got 0'):
    config_util.load_pipeline_config(TINY,
                                     overrides=['train_config.batch_size=0'])


# Writing.


def test_save_round_trips_and_leaves_no_temporary_file(tmp_path):
  config = config_util.load_pipeline_config(
      TINY, overrides=['train_config.batch_size=3'])
  model_dir = tmp_path / 'model_dir'
  path = config_util.save_pipeline_config(config, str(model_dir))
  assert path == str(model_dir / 'pipeline.config')
  assert os.listdir(model_dir) == ['pipeline.config']
  again = config_util.load_pipeline_config(path)
  assert again == config
  assert isinstance(again, pipeline_pb2.TrainEvalPipelineConfig)


def test_eval_input_reader_is_the_first_eval_reader():
  config = config_util.load_pipeline_config(TINY)
  assert config_util.eval_input_reader(config) is config.eval_input_reader[0]
  assert config_util.eval_input_reader(
      config, fall_back_to_train=True) is config.eval_input_reader[0]
  del config.eval_input_reader[:]
  assert config_util.eval_input_reader(
      config, fall_back_to_train=True) is config.train_input_reader
  with pytest.raises(config_util.ConfigError,
                     match=r'^my\.config: eval_input_reader: the config has '
                     'none'):
    config_util.eval_input_reader(config, 'my.config')


def _cosine(config):
  return optimizer_builder.learning_rate_config(
      config.train_config.optimizer).cosine_decay_learning_rate


def _learning_rate(config, step):
  cosine = _cosine(config)
  schedule = learning_schedules.CosineDecayWithWarmup(
      cosine.learning_rate_base, cosine.total_steps,
      cosine.warmup_learning_rate, cosine.warmup_steps,
      cosine.hold_base_rate_steps)
  return float(schedule(step))


@pytest.mark.parametrize('optimizer', optimizer_builder.OPTIMIZER_FIELDS)
def test_overriding_num_steps_stretches_the_schedule(tmp_path, optimizer):
  # The tiny config: 300 steps, warmup 30, base 0.02. A 40-step run used to
  # stop at learning rate 0.0199 (the schedule still ended at step 300);
  # now the schedule ends with the run, whichever optimizer follows it.
  path = _write(tmp_path, _tiny_text(optimizer))
  config = config_util.load_pipeline_config(
      path, overrides=['train_config.num_steps=40'])
  assert config.train_config.optimizer.WhichOneof('optimizer') == optimizer
  cosine = _cosine(config)
  assert (cosine.total_steps, cosine.warmup_steps) == (40, 4)
  assert _learning_rate(config, 39) < 1e-4
  # The same learning rate at the same fraction of the run.
  full = config_util.load_pipeline_config(path)
  assert _learning_rate(config, 20) == pytest.approx(
      _learning_rate(full, 150), rel=1e-5)


@pytest.mark.parametrize('optimizer', optimizer_builder.OPTIMIZER_FIELDS)
def test_a_warmup_given_with_num_steps_is_kept(tmp_path, optimizer):
  prefix = (f'train_config.optimizer.{optimizer}.learning_rate.'
            'cosine_decay_learning_rate.')
  config = config_util.load_pipeline_config(
      _write(tmp_path, _tiny_text(optimizer)),
      overrides=['train_config.num_steps=40', prefix + 'warmup_steps=0'])
  assert (_cosine(config).total_steps, _cosine(config).warmup_steps) == (
      40, 0)


@pytest.mark.parametrize('optimizer', optimizer_builder.OPTIMIZER_FIELDS)
@pytest.mark.parametrize('num_steps, reason', [
    (40, 'stop before the learning rate has decayed'),
    (400, 'run 100 steps at learning rate 0 after the decay ends')])
def test_num_steps_other_than_the_schedules_is_refused(tmp_path, num_steps,
                                                       reason, optimizer):
  prefix = (f'train_config.optimizer.{optimizer}.learning_rate.'
            'cosine_decay_learning_rate.')
  with pytest.raises(
      config_util.ConfigError,
      match=rf': {re.escape(prefix)}total_steps: is 300 but '
      rf'train_config\.num_steps is {num_steps}: training would {reason}'):
    _load_with(tmp_path, 'num_steps: 300', f'num_steps: {num_steps}',
               optimizer)
  # Overriding total_steps too keeps both values, which must then agree.
  with pytest.raises(config_util.ConfigError, match='total_steps: is 50 but'):
    config_util.load_pipeline_config(
        _write(tmp_path, _tiny_text(optimizer), 'tiny.config'),
        overrides=[f'train_config.num_steps={num_steps}',
                   prefix + 'total_steps=50'])


def test_checkpoints_fall_between_loops(tmp_path):
  with pytest.raises(config_util.ConfigError,
                     match=r'train_config\.checkpoint_every_n: must be a '
                     r'multiple of train_config\.steps_per_loop \(10\).*got '
                     r'25'):
    _load_with(tmp_path, 'checkpoint_every_n: 100', 'checkpoint_every_n: 25')
