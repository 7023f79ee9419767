"""Describes the machine a benchmark ran on: CPU, cores, TensorFlow, oneDNN."""

import dataclasses
import os
import platform
from typing import List, Optional

import tensorflow as tf

_CPUINFO = '/proc/cpuinfo'


@dataclasses.dataclass(frozen=True)
class MachineInfo:
  """What a reader needs to compare two performance reports.

  Attributes:
    cpu_model: the CPU's model name (/proc/cpuinfo), else `platform`'s.
    logical_cores: CPUs the OS reports.
    usable_cores: CPUs this process may run on (its affinity mask).
    cpu_mhz: clock of the first CPU as /proc/cpuinfo reports it, if known.
    cpu_flags: vector extensions found among the CPU flags (avx2, fma,
      avx512f, ...).
    tensorflow_version: `tf.__version__`.
    onednn_enabled: whether TensorFlow's oneDNN custom ops are on (they are
      by default only on CPUs with AVX-512 VNNI/BF16/AMX; the environment
      variable TF_ENABLE_ONEDNN_OPTS forces them).
    onednn_env: the value of TF_ENABLE_ONEDNN_OPTS, or None if unset.
    xla_built: whether this TensorFlow was built with XLA.
    gpus: names of the visible GPUs.
    intra_op_threads, inter_op_threads: TensorFlow's thread pools (0 means
      TensorFlow's default: one thread per core).
    python_version: `platform.python_version()`.
    platform: `platform.platform()`.
    load_average: the 1, 5 and 15 minute load averages when the run
      started (other processes sharing the CPUs slow every figure down),
      None where the OS does not report them.
  """
  cpu_model: str
  logical_cores: int
  usable_cores: int
  cpu_mhz: Optional[float]
  cpu_flags: List[str]
  tensorflow_version: str
  onednn_enabled: Optional[bool]
  onednn_env: Optional[str]
  xla_built: Optional[bool]
  gpus: List[str]
  intra_op_threads: int
  inter_op_threads: int
  python_version: str
  platform: str
  load_average: Optional[List[float]] = None

  def summary(self) -> str:
    """One line: CPU, cores, TensorFlow and oneDNN."""
    onednn = {True: 'on', False: 'off', None: 'unknown'}[self.onednn_enabled]
    gpus = f', GPUs: {", ".join(self.gpus)}' if self.gpus else ''
    return (f'{self.cpu_model}, {self.usable_cores} usable of '
            f'{self.logical_cores} logical cores, TensorFlow '
            f'{self.tensorflow_version}, oneDNN {onednn}{gpus}')


_VECTOR_FLAGS = ('sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni',
                 'avx512_bf16', 'amx_tile')


def read_cpuinfo(path: str = _CPUINFO) -> dict:
  """Model name, MHz and flags of the first CPU in a /proc/cpuinfo file.

  Returns:
    dict with 'model_name' (str or None), 'mhz' (float or None) and 'flags'
    (list of str); empty values if the file cannot be read.
  """
  info = {'model_name': None, 'mhz': None, 'flags': []}
  try:
    with open(path, 'r', encoding='utf-8', errors='replace') as f:
      lines = f.read().splitlines()
  except OSError:
    return info
  for line in lines:
    if ':' not in line:
      continue
    key, value = (part.strip() for part in line.split(':', 1))
    if key == 'model name' and info['model_name'] is None:
      info['model_name'] = value
    elif key == 'cpu MHz' and info['mhz'] is None:
      try:
        info['mhz'] = float(value)
      except ValueError:
        pass
    elif key == 'flags' and not info['flags']:
      info['flags'] = value.split()
  return info


def _onednn_enabled() -> Optional[bool]:
  try:
    # pylint: disable=g-import-not-at-top
    from tensorflow.python.util import _pywrap_util_port
    return bool(_pywrap_util_port.IsMklEnabled())
  except (ImportError, AttributeError):
    return None


def _xla_built() -> Optional[bool]:
  try:
    # pylint: disable=g-import-not-at-top
    from tensorflow.python.util import _pywrap_util_port
    return bool(_pywrap_util_port.IsBuiltWithXLA())
  except (ImportError, AttributeError):
    return None


def _load_average() -> Optional[List[float]]:
  try:
    return [round(v, 2) for v in os.getloadavg()]
  except (AttributeError, OSError):
    return None


def describe_machine(cpuinfo_path: str = _CPUINFO) -> MachineInfo:
  """Describes this machine and TensorFlow build."""
  cpuinfo = read_cpuinfo(cpuinfo_path)
  flags = set(cpuinfo['flags'])
  try:
    usable = len(os.sched_getaffinity(0))
  except AttributeError:
    usable = os.cpu_count() or 0
  return MachineInfo(
      cpu_model=cpuinfo['model_name'] or platform.processor() or 'unknown',
      logical_cores=os.cpu_count() or 0,
      usable_cores=usable,
      cpu_mhz=cpuinfo['mhz'],
      cpu_flags=[f for f in _VECTOR_FLAGS if f in flags],
      tensorflow_version=tf.__version__,
      onednn_enabled=_onednn_enabled(),
      onednn_env=os.environ.get('TF_ENABLE_ONEDNN_OPTS'),
      xla_built=_xla_built(),
      gpus=[d.name for d in tf.config.list_physical_devices('GPU')],
      intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
      inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
      python_version=platform.python_version(),
      platform=platform.platform(),
      load_average=_load_average())
