"""speed_sections: tables, ratios and verdicts from given measurements."""

import pytest

from benchmarks import model_speed
from benchmarks import speed
from benchmarks import speed_sections
from benchmarks import speed_suite
from benchmarks import timing


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
