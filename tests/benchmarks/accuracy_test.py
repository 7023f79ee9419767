"""accuracy: the run plan, each run's config, and one tiny run end to end."""

import dataclasses
import json
import os

import numpy as np
import pytest

from acrn_tf.builders import config_util
from acrn_tf.inference import detectors
from acrn_tf.protos import optimizer_pb2
from acrn_tf.protos import train_pb2
from benchmarks import accuracy
from benchmarks import accuracy_budget
from benchmarks import accuracy_heatmaps
from benchmarks import accuracy_runs
from benchmarks import heatmap_localisation
from benchmarks import run_pool
from benchmarks import scene_map_specs

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_CONFIG = os.path.join(_REPO, 'configs', 'synthetic', 'acrn_tiny.config')
_PATHS = accuracy.DatasetPaths('/d', '/d/label_map.pbtxt', '/r/train-*',
                               '/r/test-*')
# FULL with the end-to-end protocol (the config's cosine schedule and
# foreground fraction, nothing frozen), for the schedule tests.
_END_TO_END = dataclasses.replace(
    accuracy_budget.FULL, freeze_pretrained=False,
    constant_learning_rate=None, foreground_fraction=None)
# One step of each run on a dataset of a few seconds of video.
_TINY_BUDGET = accuracy_budget.Budget(
    name='tiny', seeds=(0,), frames_per_clip=2, clip_lengths=(2,),
    num_steps=1, warmup_steps=0, num_eval_examples=4, preset='tiny',
    dataset_overrides={'num_train_videos': 2, 'num_val_videos': 1,
                       'num_test_videos': 1, 'duration_seconds': 3})


def test_the_default_plan_is_tables_1a_and_1b_without_1c():
  runs = accuracy.plan_runs(accuracy_budget.FULL)
  assert accuracy_budget.FULL.preset == 'stage'
  assert accuracy_budget.FULL.pretrain_steps
  # 4 models x 3 seeds, then Base and ACRN at 2 and 4 frames; no run on
  # other scene maps.
  assert [r.name for r in runs] == [
      f'{model}_f8_s{seed}' for seed in (0, 1, 2) for model in
      ('base', 'resize_concat', 'santoro', 'acrn')] + [
          'base_f2_s0', 'acrn_f2_s0', 'base_f4_s0', 'acrn_f4_s0']
  assert not any(r.scene_maps for r in runs)
  assert not accuracy_budget.FULL.scene_maps
  assert not accuracy_budget.QUICK.scene_maps


def test_with_table_1c_the_plan_is_1a_then_the_other_clip_lengths_then_1c():
  runs = accuracy.plan_runs(dataclasses.replace(
      accuracy_budget.FULL, scene_maps=accuracy_budget.TABLE_1C))
  assert [r.name for r in runs[:4]] == [
      'base_f8_s0', 'resize_concat_f8_s0', 'santoro_f8_s0', 'acrn_f8_s0']
  # 4 models x 3 seeds, then Base and ACRN at 2 and 4 frames (8 is shared),
  # then ACRN on other scene maps (Mixed_4f at 1 is 1a's run).
  assert len(runs) == 12 + 4 + 6
  assert [r.name for r in runs[12:16]] == ['base_f2_s0', 'acrn_f2_s0',
                                           'base_f4_s0', 'acrn_f4_s0']
  assert [r.name for r in runs[16:]] == [
      'acrn_f8_s0_Conv2d_2c_3x3@0.5', 'acrn_f8_s0_Mixed_3c@0.5',
      'acrn_f8_s0_Mixed_4f@0.5',
      'acrn_f8_s0_Conv2d_2c_3x3@0.5+Mixed_3c@0.5+Mixed_4f@0.5',
      'acrn_f8_s0_Conv2d_2c_3x3@1', 'acrn_f8_s0_Mixed_3c@1']
  assert len(set(runs)) == len(runs)
  # With a base config relating to Mixed_3c at 1, that cell is 1a's run.
  other = accuracy.plan_runs(dataclasses.replace(
      accuracy_budget.FULL, scene_maps=accuracy_budget.TABLE_1C),
      'Mixed_3c@1.0')
  assert 'acrn_f8_s0_Mixed_4f@1' in [r.name for r in other]
  assert 'acrn_f8_s0_Mixed_3c@1' not in [r.name for r in other]


def test_a_run_on_other_scene_maps():
  run = accuracy.Run('acrn', 0, 8, 'Conv2d_2c_3x3@0.5+Mixed_4f@0.5')
  assert run.fields()['scene_maps'] == 'Conv2d_2c_3x3@0.5+Mixed_4f@0.5'
  assert 'scene_maps' not in accuracy.Run('acrn', 0, 8).fields()
  config = accuracy.run_config(config_util.read_pipeline_config(_CONFIG),
                               run, accuracy_budget.FULL, _PATHS)
  assert [(f.endpoint, f.scale) for f in
          config.model.video_faster_rcnn.relation_module.scene_features] == [
              ('Conv2d_2c_3x3', 0.5), ('Mixed_4f', 0.5)]
  assert scene_map_specs.of_config(config) == run.scene_maps


def test_quick_plan():
  assert [r.name for r in accuracy.plan_runs(accuracy_budget.QUICK)] == [
      'base_f8_s0', 'resize_concat_f8_s0', 'santoro_f8_s0', 'acrn_f8_s0',
      'base_f2_s0', 'acrn_f2_s0']


@pytest.mark.parametrize('model,field', list(accuracy.RELATION_FIELD.items()))
def test_run_config_changes_only_the_run(model, field):
  base = config_util.read_pipeline_config(_CONFIG)
  run = accuracy.Run(model, seed=2, frames_per_clip=4)
  budget = dataclasses.replace(_END_TO_END, num_steps=800,
                               warmup_steps=80, learning_rate=None)
  config = accuracy.run_config(base, run, budget, _PATHS)
  relation = config.model.video_faster_rcnn.relation_module
  assert relation.WhichOneof('relation_module_oneof') == field
  assert len(relation.scene_features) == (0 if model == 'base' else 1)
  train = config.train_config
  assert (train.seed, train.num_steps, train.checkpoint_every_n) == (
      2, 800, 800)
  cosine = train.optimizer.momentum_optimizer.learning_rate.\
      cosine_decay_learning_rate
  assert (cosine.total_steps, cosine.warmup_steps) == (800, 80)
  assert cosine.learning_rate_base == pytest.approx(0.02)  # the config's
  assert config.train_input_reader.seed == 2
  # bfloat16 compute, XLA off: what FULL's step counts were sized for.
  assert train.mixed_precision == train_pb2.TrainConfig.MIXED_BFLOAT16
  assert not config.model.video_faster_rcnn.use_xla
  for reader, records in ((config.train_input_reader, '/r/train-*'),
                          (config.eval_input_reader[0], '/r/test-*')):
    assert list(reader.tf_record_input_reader.input_path) == [records]
    assert reader.label_map_path == '/d/label_map.pbtxt'
    assert reader.frames_per_clip == 4
  assert config.eval_config.num_visualizations == 0
  # The base config is left as it was.
  assert base.model.video_faster_rcnn.relation_module.HasField('acrn')


def test_run_config_sets_the_budget_learning_rate():
  base = config_util.read_pipeline_config(_CONFIG)
  budget = dataclasses.replace(_END_TO_END, learning_rate=0.05)
  config = accuracy.run_config(base, accuracy.Run('acrn', 0, 8), budget,
                               _PATHS)
  cosine = (config.train_config.optimizer.momentum_optimizer.learning_rate
            .cosine_decay_learning_rate)
  assert cosine.learning_rate_base == pytest.approx(0.05)
  constant = config_util.read_pipeline_config(_CONFIG)
  constant.train_config.optimizer.momentum_optimizer.learning_rate.\
      constant_learning_rate.learning_rate = 0.01
  with pytest.raises(ValueError, match='the config.s schedule is '
                     'constant_learning_rate'):
    accuracy.run_config(constant, accuracy.Run('acrn', 0, 8), budget, _PATHS)


def test_run_config_sets_the_schedule_of_an_adam_config():
  base = config_util.read_pipeline_config(_CONFIG)
  optimizer = base.train_config.optimizer
  schedule = optimizer_pb2.LearningRate()
  schedule.CopyFrom(optimizer.momentum_optimizer.learning_rate)
  optimizer.adam_optimizer.learning_rate.CopyFrom(schedule)
  budget = dataclasses.replace(_END_TO_END, num_steps=800,
                               warmup_steps=80, learning_rate=0.05)
  config = accuracy.run_config(base, accuracy.Run('acrn', 0, 8), budget,
                               _PATHS)
  optimizer = config.train_config.optimizer
  assert optimizer.WhichOneof('optimizer') == 'adam_optimizer'
  cosine = optimizer.adam_optimizer.learning_rate.cosine_decay_learning_rate
  assert (cosine.total_steps, cosine.warmup_steps) == (800, 80)
  assert cosine.learning_rate_base == pytest.approx(0.05)


@pytest.mark.parametrize('model,g_theta_reads_f_a', [
    ('base', True), ('resize_concat', True), ('santoro', False),
    ('acrn', False)])
def test_the_base_configs_g_theta_choice_goes_to_santoro_and_acrn(
    model, g_theta_reads_f_a):
  base = config_util.read_pipeline_config(_CONFIG)
  base.model.video_faster_rcnn.relation_module.actor_feature_in_g_theta = (
      False)
  config = accuracy.run_config(base, accuracy.Run(model, 0, 8),
                               _END_TO_END, _PATHS)  # validates
  relation = config.model.video_faster_rcnn.relation_module
  assert relation.actor_feature_in_g_theta == g_theta_reads_f_a
  assert relation.HasField('actor_feature_in_g_theta') != g_theta_reads_f_a


def test_relation_settings_name_the_scene_maps_and_g_thetas_inputs():
  base = config_util.read_pipeline_config(_CONFIG)
  assert accuracy.relation_settings(base) == (
      'The relation modules relate each actor to Mixed_4f at scale 1. The '
      'g_theta of Santoro et al. and of ACRN reads f_a, the actor\'s box, '
      'each scene cell and its location (paper eq. 2).')
  relation = base.model.video_faster_rcnn.relation_module
  relation.actor_feature_in_g_theta = False
  relation.scene_features[0].scale = 0.25
  relation.scene_features.add(endpoint='Mixed_3c', scale=0.5)
  assert accuracy.relation_settings(base) == (
      'The relation modules relate each actor to Mixed_4f at scale 0.25, '
      'Mixed_3c at scale 0.5. The g_theta of Santoro et al. and of ACRN '
      'reads the actor\'s box, each scene cell and its location, not f_a '
      '(relation_module.actor_feature_in_g_theta false; paper eq. 2 has f_a '
      'too), and f_a meets the relation feature in the classifier.')
  relation.ClearField('scene_features')
  assert 'relate each actor to the feature map F at scale 1.' in (
      accuracy.relation_settings(base))


def test_pretraining_config_and_the_runs_that_start_from_it():
  base = config_util.read_pipeline_config(_CONFIG)
  budget = dataclasses.replace(_END_TO_END, seeds=(3, 4), num_steps=600,
                               warmup_steps=60, pretrain_steps=2000)
  config = accuracy.pretrain_config(base, budget, _PATHS)
  relation = config.model.video_faster_rcnn.relation_module
  assert relation.WhichOneof('relation_module_oneof') == 'none'
  train = config.train_config
  assert (train.seed, train.num_steps, train.checkpoint_every_n) == (
      3, 2000, 2000)
  assert not train.fine_tune_checkpoint
  cosine = train.optimizer.momentum_optimizer.learning_rate.\
      cosine_decay_learning_rate
  assert (cosine.total_steps, cosine.warmup_steps) == (2000, 200)
  assert config.train_input_reader.frames_per_clip == 8

  run = accuracy.run_config(base, accuracy.Run('acrn', 4, 2), budget, _PATHS,
                            pretrained_dir='/w/runs/pretrain')
  assert run.train_config.fine_tune_checkpoint == '/w/runs/pretrain'
  assert run.train_config.fine_tune_checkpoint_type == (
      run.train_config.SHARED_PARTS)
  assert run.train_config.num_steps == 600
  with pytest.raises(ValueError, match='pretrain_steps is 0'):
    accuracy.pretrain_config(base, accuracy_budget.QUICK, _PATHS)


def test_runs_on_the_frozen_pretraining_run():
  base = config_util.read_pipeline_config(_CONFIG)
  budget = dataclasses.replace(
      accuracy_budget.FULL, num_steps=600, freeze_pretrained=True,
      constant_learning_rate=0.03, foreground_fraction=1.0)
  run = accuracy.run_config(base, accuracy.Run('acrn', 0, 8), budget, _PATHS,
                            pretrained_dir='/w/runs/pretrain')
  train = run.train_config
  assert list(train.frozen_part) == [train.FEATURE_EXTRACTOR,
                                     train.ACTOR_DETECTOR, train.ACTOR_HEAD]
  rate = train.optimizer.momentum_optimizer.learning_rate
  assert rate.WhichOneof('learning_rate') == 'constant_learning_rate'
  assert rate.constant_learning_rate.learning_rate == pytest.approx(0.03)
  assert run.model.video_faster_rcnn.action_head.foreground_fraction == 1.0
  # The pretraining run itself trains everything on the config's schedule
  # and foreground fraction.
  pretraining = accuracy.pretrain_config(base, budget, _PATHS)
  assert not pretraining.train_config.frozen_part
  assert pretraining.train_config.optimizer.momentum_optimizer.learning_rate\
      .HasField('cosine_decay_learning_rate')
  assert pretraining.model.video_faster_rcnn.action_head\
      .foreground_fraction == 0.5


def test_a_tiny_run_end_to_end_then_skipped(tmp_path):
  budget = _TINY_BUDGET
  work = str(tmp_path / 'work')
  run = accuracy.Run('acrn', 0, 2)
  lines = []
  results = accuracy.run_benchmark(_CONFIG, work, budget, lines.append,
                                   runs=[run])
  assert len(results) == 1
  result = results[0]
  assert result['name'] == 'acrn_f2_s0'
  assert 0.0 <= result['frame_ap'] <= 1.0
  assert result['num_steps'] == 1 and result['num_test_keyframes'] == 2
  assert set(result['per_class_ap']) >= {'throw', 'catch'}
  # Its loss curve, read back from its TensorBoard logs: the one step.
  [[step, loss]] = result['classification_loss']
  assert step == 1 and loss > 0
  run_dir = os.path.join(work, 'runs', 'acrn_f2_s0')
  # The run's scene maps, from its config, are added to the kept result.
  assert result[accuracy.RELATION_SCENE_MAPS] == 'Mixed_4f@1'
  assert accuracy_runs.load_result(run_dir) == {
      k: v for k, v in result.items() if k != accuracy.RELATION_SCENE_MAPS}
  assert any(line.startswith('records train:') for line in lines)
  assert lines[-1].startswith('[1/1] acrn_f2_s0: frame-AP ')

  # A second call finds the result and neither converts nor trains again.
  again = []
  assert accuracy.run_benchmark(_CONFIG, work, budget, again.append,
                                runs=[run]) == results
  assert again[-1].startswith('[1/1] acrn_f2_s0: done before')
  assert not any('generating' in line for line in again)
  # Not when the budget gives the run another config.
  with pytest.raises(accuracy_runs.StaleRunError) as error:
    accuracy.run_benchmark(_CONFIG, work, dataclasses.replace(
        budget, num_steps=2), again.append, runs=[run])
  assert str(error.value).startswith(
      f'{os.path.join(run_dir, "pipeline.config")} differs from the config '
      'this budget gives the run at line ')
  assert ("'num_steps: 1', now 'num_steps: 2'" in str(error.value)
          or "'total_steps: 1', now 'total_steps: 2'" in str(error.value))

  # The trained ACRN's heat maps on the test video.
  video = os.path.join(work, 'data', 'videos', 'test_00000.mp4')
  png = accuracy_heatmaps.write_heatmaps_png(
      os.path.join(run_dir, 'pipeline.config'), run_dir, [video, video],
      keyframe_second=1.0, output_path=str(tmp_path / 'heat.png'),
      min_score=0.0, shorter_side=96, columns=2)
  with open(png, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'

  # Its heat maps for every class: at each detection's top class they are
  # the ones the detector returns (the proposal found by its scores).
  config_path = os.path.join(run_dir, 'pipeline.config')
  by_class = heatmap_localisation.ClassHeatmapDetector(config_path, run_dir)
  clip, _ = accuracy_heatmaps.read_clip(video, 1.0, 2)
  boxes, scores, maps = by_class.detect(clip)
  detections = detectors.CheckpointDetector(config_path, run_dir).detect(clip)
  assert len(boxes) == len(detections['detection_boxes']) > 0
  np.testing.assert_allclose(boxes, detections['detection_boxes'], atol=1e-6)
  np.testing.assert_allclose(scores,
                             detections['detection_multiclass_scores'],
                             atol=1e-6)
  top = detections['detection_classes'] - 1
  np.testing.assert_allclose(maps[np.arange(len(top)), ..., top],
                             detections['relation_heatmaps'], atol=1e-5)
  # The figure on the test split, kept beside the run's result.
  lines = []
  summary = heatmap_localisation.localise_runs(
      work, results, accuracy.dataset_config(budget), 2, lines.append)
  assert lines == ['heat-map localisation of acrn_f2_s0 ...']
  figure = summary['runs']['acrn_f2_s0']
  assert set(figure['per_class']) == {'pass', 'look_at'}
  assert 0 <= figure['num_inside'] <= figure['num_actors']
  if figure['num_actors']:
    assert 0 < figure['chance'] < 1
  else:
    assert figure['chance'] is None
  assert heatmap_localisation.load_or_evaluate(run_dir, None, None) == figure
  assert heatmap_localisation.localise_runs(
      work, results, accuracy.dataset_config(budget), 8) is None


def test_pretraining_then_runs_side_by_side_in_worker_processes(tmp_path):
  budget = dataclasses.replace(_TINY_BUDGET, pretrain_steps=1)
  work = str(tmp_path / 'work')
  runs = [accuracy.Run('base', 0, 2), accuracy.Run('acrn', 0, 2)]
  jobs = min(2, len(run_pool.schedulable_cores()))
  lines = []
  results = accuracy.run_benchmark(_CONFIG, work, budget, lines.append,
                                   runs=runs, jobs=jobs)
  assert [r['name'] for r in results] == ['base_f2_s0', 'acrn_f2_s0']
  for run, result in zip(runs, results):
    run_dir = os.path.join(work, 'runs', run.name)
    # The kept result, plus the run's scene maps from its config.
    assert accuracy_runs.load_result(run_dir) == {
        k: v for k, v in result.items() if k != accuracy.RELATION_SCENE_MAPS}
    assert result[accuracy.RELATION_SCENE_MAPS] == (
        '' if run.model == 'base' else 'Mixed_4f@1')
    assert 0.0 <= result['frame_ap'] <= 1.0
    # The worker's output went to the run's log, not to the console.
    assert os.path.getsize(
        os.path.join(run_dir, accuracy_runs.TRAIN_LOG)) > 0
    config = config_util.read_pipeline_config(
        os.path.join(run_dir, 'pipeline.config'))
    assert config.train_config.fine_tune_checkpoint == os.path.join(
        work, 'runs', accuracy.PRETRAIN)
  # The pretraining run first, alone on every core, then the runs, each on
  # its own core (on a 2-core machine).
  cores = ','.join(map(str, run_pool.schedulable_cores()))
  pretrained = [line for line in lines if line.startswith('[pretrain]')]
  assert pretrained[0] == (
      f'[pretrain] pretrain: training 1 steps on core'
      f'{"s" if len(run_pool.schedulable_cores()) > 1 else ""} {cores} '
      f'(output in {os.path.join(work, "runs", "pretrain", "train.log")}) ...')
  assert pretrained[1].startswith('[pretrain] pretrain: frame-AP ')
  assert lines.index(pretrained[1]) < min(
      i for i, line in enumerate(lines) if line.startswith('[1/2]'))
  assert accuracy_runs.load_result(os.path.join(work, 'runs', 'pretrain'))[
      'model'] == 'base'
  assert sum(line.startswith('[') and 'training 1 steps on core' in line
             for line in lines) == 3
  assert sum(': frame-AP ' in line for line in lines) == 3


def test_a_config_of_another_frame_shape_than_the_preset_is_refused():
  config = config_util.read_pipeline_config(_CONFIG)   # 96x128
  tiny = accuracy.dataset_config(_TINY_BUDGET)         # 96x128
  accuracy.check_frame_shape(config, tiny)
  # Scaled uniformly: accepted.
  accuracy.check_frame_shape(config, dataclasses.replace(
      tiny, frame_height=192, frame_width=256))
  with pytest.raises(ValueError, match=r"cfg: train_input_reader reads "
                     r"96x128 frames, but preset 'tiny' has 96x384 frames"):
    accuracy.check_frame_shape(config, dataclasses.replace(
        tiny, frame_width=384), 'cfg')
  config.train_input_reader.image_width = 384
  with pytest.raises(ValueError, match='eval_input_reader reads 96x128'):
    accuracy.check_frame_shape(config, dataclasses.replace(
        tiny, frame_width=384))


def test_record_invocation_adds_up_the_wall_time(tmp_path):
  work = str(tmp_path / 'work')
  first = accuracy.record_invocation(work, 1764892800.0, 1764892800.0 + 90,
                                     completed=False)
  assert first == [{'started': '2025-12-05T00:00:00+00:00', 'minutes': 1.5,
                    'completed': False}]
  both = accuracy.record_invocation(work, 1764896400.0, 1764896400.0 + 30,
                                    completed=True)
  assert [i['minutes'] for i in both] == [1.5, 0.5]
  assert both[1] == {'started': '2025-12-05T01:00:00+00:00', 'minutes': 0.5,
                     'completed': True}
  with open(os.path.join(work, accuracy.INVOCATIONS_JSON)) as f:
    assert json.load(f) == both
  # The same start again: that invocation is updated, not added.
  updated = accuracy.record_invocation(work, 1764896400.0,
                                       1764896400.0 + 60, completed=True)
  assert [i['minutes'] for i in updated] == [1.5, 1.0]
