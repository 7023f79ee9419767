"""speed_training_sections: training variants, ratios and the input one."""

import pytest

from benchmarks import input_throughput
from benchmarks import performance_report as report_lib
from benchmarks import speed_suite
from benchmarks import speed_training_sections
from benchmarks import timing
from benchmarks import training_speed


def test_training_not_available(monkeypatch):
  monkeypatch.setattr(training_speed, 'find_train_step_factory',
                      lambda: (None, 'no train-step factory in x'))
  entry = speed_training_sections.training_section(
      speed_suite.SpeedOptions(), {})
  assert entry['status'] == report_lib.STATUS_NOT_AVAILABLE
  assert entry['reason'] == ('the training library has no train step yet: '
                             'no train-step factory in x.')


def test_training_then_input_ratio(monkeypatch):
  monkeypatch.setattr(training_speed, 'find_train_step_factory',
                      lambda: (object(), 'acrn_tf.training.x.make_train_step'))
  monkeypatch.setattr(
      training_speed, 'measure_training_isolated',
      lambda *args: training_speed.TrainingSpeedResult(
          config_path='c', factory_name='f', batch_size=4,
          clip_shape=(8, 96, 128),
          stats=timing.stats_from_samples([0.5, 0.5, 0.5]),
          peak_rss_bytes=300 * 2**20, start_rss_bytes=200 * 2**20,
          process_peak_rss_bytes=400 * 2**20))
  monkeypatch.setattr(
      input_throughput, 'measure_input_pipeline',
      lambda *args: input_throughput.InputPipelineResult(
          config_path='c', records=['r'], synthetic_records=True,
          batch_size=4, clip_shape=(8, 96, 128), use_flow=False,
          stats={'num_batches': 5, 'num_examples': 20, 'seconds': 1.0,
                 'examples_per_second': 20.0}))
  context = {}
  options = speed_suite.SpeedOptions()
  training = speed_training_sections.training_section(options, context)
  # 4 examples per 0.5 s step.
  assert training['data']['examples_per_second'] == pytest.approx(8.0)
  assert training['table']['rows'][0][-2:] == ['300', '400']
  entry = speed_training_sections.input_section(options, context)
  assert entry['data']['ratio_to_training'] == pytest.approx(2.5)
  assert ('The pipeline delivers 2.5x what training consumes (examples/s), '
          'misses the goal of 3x.') in entry['notes']
  assert entry['chart']['values'] == [20.0, 8.0]


def test_training_variants_and_their_ratios(monkeypatch):
  monkeypatch.setattr(training_speed, 'find_train_step_factory',
                      lambda: (object(), 'acrn_tf.training.x.make_train_step'))
  # A step of 0.5 s; XLA halves it, bfloat16 takes 4/5 of it.
  seen = []

  def measure(config_path, num_steps, num_warmup, batch_size, overrides):
    del config_path, num_steps, num_warmup, batch_size
    seen.append(list(overrides))
    seconds = 0.5
    if 'model.video_faster_rcnn.use_xla=true' in overrides:
      seconds *= 0.5
    if 'train_config.mixed_precision=MIXED_BFLOAT16' in overrides:
      seconds *= 0.8
    return training_speed.TrainingSpeedResult(
        config_path='c', factory_name='f', batch_size=4,
        clip_shape=(8, 96, 128),
        stats=timing.stats_from_samples([seconds] * 3),
        peak_rss_bytes=300 * 2**20, start_rss_bytes=200 * 2**20,
        process_peak_rss_bytes=400 * 2**20)

  monkeypatch.setattr(training_speed, 'measure_training_isolated', measure)
  context = {}
  entry = speed_training_sections.training_section(speed_suite.SpeedOptions(),
                                          context)
  assert [row[0] for row in entry['table']['rows']] == [
      'float32, no xla', 'float32, xla', 'mixed_bfloat16, no xla',
      'mixed_bfloat16, xla']
  assert seen[1] == ['train_config.mixed_precision=FLOAT32',
                     'model.video_faster_rcnn.use_xla=true']
  ratios = entry['data']['ratios']
  assert ratios['xla / no xla (float32)'] == pytest.approx(2.0)
  assert ratios['mixed_bfloat16 / float32 (no xla)'] == pytest.approx(1.25)
  assert ('Steps/s with XLA / without, float32: 2.00x, meets the goal of '
          '1.5x.') in entry['notes']
  # The input pipeline is compared with the fastest variant (4 / 0.2 s).
  assert context[speed_training_sections.TRAINING_KEY] == pytest.approx(20.0)
  assert entry['chart']['values'] == pytest.approx([2.0, 4.0, 2.5, 5.0])
