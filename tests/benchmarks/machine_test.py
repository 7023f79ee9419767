"""machine: the CPU description from a /proc/cpuinfo file."""

from benchmarks import machine


def test_read_cpuinfo_takes_the_first_cpu(tmp_path):
  path = tmp_path / 'cpuinfo'
  path.write_text('processor\t: 0\nmodel name\t: Example CPU @ 3.0GHz\n'
                  'cpu MHz\t\t: 2999.5\nflags\t\t: fpu sse4_2 avx2 fma\n\n'
                  'processor\t: 1\nmodel name\t: Other\ncpu MHz\t\t: 1.0\n')
  info = machine.read_cpuinfo(str(path))
  assert info == {'model_name': 'Example CPU @ 3.0GHz', 'mhz': 2999.5,
                  'flags': ['fpu', 'sse4_2', 'avx2', 'fma']}


def test_describe_machine(tmp_path):
  path = tmp_path / 'cpuinfo'
  path.write_text('model name\t: Example CPU\nflags\t\t: avx2 fma avx512f\n')
  info = machine.describe_machine(str(path))
  assert info.cpu_model == 'Example CPU'
  assert info.cpu_flags == ['avx2', 'fma', 'avx512f']
  assert info.usable_cores >= 1 and info.logical_cores >= info.usable_cores
  assert 'Example CPU' in info.summary()
  assert len(info.load_average) == 3


def test_unreadable_cpuinfo(tmp_path):
  assert machine.read_cpuinfo(str(tmp_path / 'missing')) == {
      'model_name': None, 'mhz': None, 'flags': []}
