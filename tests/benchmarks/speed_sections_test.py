"""speed_sections: tables, ratios and verdicts from given measurements."""

import pytest

from benchmarks import input_throughput
from benchmarks import model_speed
from benchmarks import performance_report as report_lib
from benchmarks import speed
from benchmarks import speed_sections
from benchmarks import speed_suite
from benchmarks import timing
from benchmarks import training_speed


def _mode(name, seconds):
  return speed.TimedMode(name, name == 'xla',
                         timing.stats_from_samples([seconds] * 3))


def _model_result(spec, seconds_by_mode):
  return model_speed.ModelSpeedResult(
      spec=spec, model_class='Fake', clip_shape=spec.clip_shape or (8, 96, 128),
      use_flow='paper' in spec.name, reduced_input=spec.clip_shape is not None,
      num_actors=10, profiler_conv_flops=None,
      modes=[_mode(n, s) for n, s in seconds_by_mode.items()])


def test_model_section_ratios_and_reduced_input(monkeypatch):
  times = {'Base-Model tiny': 0.1, 'ACRN tiny': 0.2,
           'Base-Model paper': 4.0, 'ACRN paper': 5.0}
  monkeypatch.setattr(
      model_speed, 'measure_model_inference',
      lambda spec, modes, repeats, warmup: _model_result(
          spec, {speed.xla_label(m): times[spec.name] * (0.5 if m else 1.0)
                 for m in modes}))
  options = speed_suite.SpeedOptions(quick=True, xla_modes=(False, True))
  entry = speed_sections.model_section(options, {})
  ratios = entry['data']['acrn_ratios']
  assert ratios['tiny'] == {'no xla': pytest.approx(2.0),
                            'xla': pytest.approx(2.0)}
  assert ratios['paper']['no xla'] == pytest.approx(1.25)
  # Quick runs shrink the paper clip and say so.
  paper_rows = [r for r in entry['table']['rows'] if 'paper' in r[0]]
  assert all('8x160x200 + flow (reduced)' == r[3] for r in paper_rows)
  assert any(n.startswith('Reduced input') for n in entry['notes'])
  assert 'ACRN / Base-Model time, paper (no xla): 1.25' in entry['notes']
  # XLA halves every time here.
  assert entry['data']['xla_speedups']['ACRN paper'] == pytest.approx(2.0)
  assert ('No-XLA / XLA time (the speed-up of XLA), ACRN paper: 2.00x'
          in entry['notes'])


def test_training_not_available(monkeypatch):
  monkeypatch.setattr(training_speed, 'find_train_step_factory',
                      lambda: (None, 'no train-step factory in x'))
  entry = speed_sections.training_section(speed_suite.SpeedOptions(), {})
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
  training = speed_sections.training_section(options, context)
  # 4 examples per 0.5 s step.
  assert training['data']['examples_per_second'] == pytest.approx(8.0)
  assert training['table']['rows'][0][-2:] == ['300', '400']
  entry = speed_sections.input_section(options, context)
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
  entry = speed_sections.training_section(speed_suite.SpeedOptions(),
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
  assert context[speed_sections.TRAINING_KEY] == pytest.approx(20.0)
  assert entry['chart']['values'] == pytest.approx([2.0, 4.0, 2.5, 5.0])
