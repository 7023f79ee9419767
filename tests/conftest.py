"""Test-process settings that must be in place before TensorFlow starts.

XLA's LLVM backend optimisation is turned down for the tests: the tests
that compile the whole training step with XLA (tests/training) pay for the
compile, not for the compiled code's speed, and at the default level one
compile of the tiny step takes minutes on a shared 2-core machine. The
compiled computation (the HLO after XLA's own passes) is the same; only its
machine code is less optimised. A user's XLA_FLAGS are kept and extended.
"""

import os

_BACKEND_LEVEL = '--xla_backend_optimization_level=0'

if 'xla_backend_optimization_level' not in os.environ.get('XLA_FLAGS', ''):
  os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' ' +
                             _BACKEND_LEVEL).strip()
