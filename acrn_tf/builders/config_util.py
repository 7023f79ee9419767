"""Reads, overrides, validates and writes pipeline.config files.

A pipeline.config is a `TrainEvalPipelineConfig` in protobuf text format.
Errors name the file and line for parse errors and the field path for
impossible values, e.g. ``train_config.num_steps: must be >= 0, got -5``.
"""

import os
import tempfile
from typing import Iterable, Optional

from absl import logging
from google.protobuf import descriptor
from google.protobuf import text_format

from acrn_tf.builders import config_validation
from acrn_tf.builders import optimizer_builder
from acrn_tf.protos import pipeline_pb2

ConfigError = config_validation.ConfigError

PIPELINE_CONFIG_NAME = 'pipeline.config'


def parse_pipeline_config_text(text: str, source: str = '<string>'
                               ) -> pipeline_pb2.TrainEvalPipelineConfig:
  """Parses pipeline.config text; parse errors name `source`, line, column."""
  config = pipeline_pb2.TrainEvalPipelineConfig()
  _merge_text(text, config, source)
  return config


def read_pipeline_config(path: str) -> pipeline_pb2.TrainEvalPipelineConfig:
  """Reads a pipeline.config file (not validated; see `validate`)."""
  try:
    with open(path, 'r', encoding='utf-8') as f:
      text = f.read()
  except OSError as e:
    raise ConfigError(f'{path}: cannot read the pipeline config: '
                      f'{e.strerror}') from e
  return parse_pipeline_config_text(text, source=path)


def _merge_text(text, message, source):
  try:
    text_format.Merge(text, message)
  except text_format.ParseError as e:
    line, column = e.GetLine(), e.GetColumn()
    # ParseError's message starts with "line:column : "; keep the reason.
    reason = str(e)
    prefix = f'{line}:{column} : '
    if reason.startswith(prefix):
      reason = reason[len(prefix):]
    raise ConfigError(f'{source}:{line}:{column}: {reason}') from e


def merge_text_override(config: pipeline_pb2.TrainEvalPipelineConfig,
                        override_text: str,
                        source: str = '--config_override') -> None:
  """Merges a text-proto override (the OD API's --config_override).

  Singular fields given in the override replace the config's; repeated fields
  are appended to, as `text_format.Merge` does.
  """
  if override_text and override_text.strip():
    _merge_text(override_text, config, source)


def apply_key_value_overrides(config: pipeline_pb2.TrainEvalPipelineConfig,
                              overrides: Iterable[str]) -> None:
  """Applies `field.path=value` overrides in place.

  A path names fields from the top message, with `[i]` to index a repeated
  message field, e.g. `train_config.batch_size=8` or
  `eval_input_reader[0].frames_per_clip=8`. A repeated scalar field takes a
  comma-separated list, which replaces its values. Enum values are given by
  name; booleans as true/false.

  Raises:
    ConfigError: naming the override for an unknown field, an index out of
      range or a value of the wrong type.
  """
  for override in overrides:
    if '=' not in override:
      raise ConfigError(f'override {override!r}: expected field.path=value')
    path, value = override.split('=', 1)
    path = path.strip()
    message, field = _resolve_path(config, path, override)
    if field.message_type is not None:
      raise ConfigError(f'override {override!r}: {path} is a message; set '
                        'one of its fields, or use --config_override')
    if field.is_repeated:
      values = [v for v in value.split(',') if v.strip()]
      del getattr(message, field.name)[:]
      getattr(message, field.name).extend(
          _parse_scalar(field, v, override) for v in values)
    else:
      setattr(message, field.name, _parse_scalar(field, value, override))


def _resolve_path(config, path, override):
  """Returns (message holding the last field, last field descriptor)."""
  message = config
  parts = path.split('.')
  for i, part in enumerate(parts):
    name, index = part, None
    if part.endswith(']') and '[' in part:
      name, index_text = part[:-1].split('[', 1)
      try:
        index = int(index_text)
      except ValueError:
        raise ConfigError(f'override {override!r}: bad index in {part!r}')
    field = message.DESCRIPTOR.fields_by_name.get(name)
    if field is None:
      known = ', '.join(sorted(message.DESCRIPTOR.fields_by_name))
      where = '.'.join(parts[:i]) or message.DESCRIPTOR.name
      raise ConfigError(f'override {override!r}: {where} has no field '
                        f'{name!r} (known: {known})')
    last = i == len(parts) - 1
    if last:
      if index is not None:
        raise ConfigError(f'override {override!r}: cannot index the last '
                          f'field {name!r}')
      return message, field
    if field.message_type is None:
      raise ConfigError(f'override {override!r}: {name} is not a message')
    if field.is_repeated:
      items = getattr(message, name)
      if index is None:
        index = 0
      if index == len(items):
        items.add()
      if not 0 <= index < len(items):
        raise ConfigError(f'override {override!r}: {name} has {len(items)} '
                          f'entries, index {index} is out of range')
      message = items[index]
    else:
      if index is not None:
        raise ConfigError(f'override {override!r}: {name} is not repeated')
      message = getattr(message, name)
  raise ConfigError(f'override {override!r}: empty field path')


_INT_TYPES = (descriptor.FieldDescriptor.TYPE_INT32,
              descriptor.FieldDescriptor.TYPE_INT64,
              descriptor.FieldDescriptor.TYPE_UINT32,
              descriptor.FieldDescriptor.TYPE_UINT64,
              descriptor.FieldDescriptor.TYPE_SINT32,
              descriptor.FieldDescriptor.TYPE_SINT64)
_FLOAT_TYPES = (descriptor.FieldDescriptor.TYPE_FLOAT,
                descriptor.FieldDescriptor.TYPE_DOUBLE)


def _parse_scalar(field, text, override):
  text = text.strip()
  try:
    if field.type in _INT_TYPES:
      return int(text)
    if field.type in _FLOAT_TYPES:
      return float(text)
    if field.type == descriptor.FieldDescriptor.TYPE_BOOL:
      lowered = text.lower()
      if lowered not in ('true', 'false', '1', '0'):
        raise ValueError(text)
      return lowered in ('true', '1')
    if field.type == descriptor.FieldDescriptor.TYPE_ENUM:
      value = field.enum_type.values_by_name.get(text)
      if value is None:
        names = ', '.join(v.name for v in field.enum_type.values)
        raise ConfigError(f'override {override!r}: {field.name} takes one '
                          f'of {names}, got {text!r}')
      return value.number
    if field.type == descriptor.FieldDescriptor.TYPE_STRING:
      if len(text) >= 2 and text[0] == text[-1] and text[0] in '"\'':
        text = text[1:-1]
      return text
  except ConfigError:
    raise
  except ValueError:
    raise ConfigError(f'override {override!r}: {field.name} expects '
                      f'{_type_name(field)}, got {text!r}') from None
  raise ConfigError(f'override {override!r}: unsupported field type')


def _type_name(field):
  if field.type in _INT_TYPES:
    return 'an integer'
  if field.type in _FLOAT_TYPES:
    return 'a number'
  if field.type == descriptor.FieldDescriptor.TYPE_BOOL:
    return 'a boolean (true/false)'
  return 'a value'


def validate(config: pipeline_pb2.TrainEvalPipelineConfig,
             source: str = 'pipeline config') -> None:
  """Raises ConfigError naming the first impossible field of `config`."""
  config_validation.validate_pipeline(config, source)


_SCHEDULE_STEPS = ('total_steps', 'warmup_steps', 'hold_base_rate_steps')


def _cosine_schedule(config):
  """The set optimizer's cosine_decay_learning_rate message, or None."""
  rate = optimizer_builder.learning_rate_config(
      config.train_config.optimizer)
  if rate is None or (rate.WhichOneof('learning_rate')
                      != 'cosine_decay_learning_rate'):
    return None
  return rate.cosine_decay_learning_rate


def _schedule_steps(config):
  cosine = _cosine_schedule(config)
  steps = [getattr(cosine, f) for f in _SCHEDULE_STEPS] if cosine else []
  return [config.train_config.num_steps] + steps


def stretch_schedule(config: pipeline_pb2.TrainEvalPipelineConfig,
                     length: int) -> None:
  """Stretches the cosine schedule in place from `length` steps to num_steps.

  total_steps becomes train_config.num_steps; warmup_steps and
  hold_base_rate_steps keep their share of the schedule (rounded), so the
  learning rate at step k of the new run is the old one at step
  k * length / num_steps.
  """
  cosine = _cosine_schedule(config)
  num_steps = config.train_config.num_steps
  if cosine is None or num_steps < 1 or length < 1:
    return
  factor = num_steps / length
  cosine.total_steps = num_steps
  cosine.warmup_steps = min(int(round(cosine.warmup_steps * factor)),
                            num_steps)
  cosine.hold_base_rate_steps = min(
      int(round(cosine.hold_base_rate_steps * factor)),
      num_steps - cosine.warmup_steps)


def load_pipeline_config(path: str,
                         config_override: Optional[str] = None,
                         overrides: Iterable[str] = (),
                         ) -> pipeline_pb2.TrainEvalPipelineConfig:
  """Reads `path`, applies both kinds of override, validates; returns it.

  An override of train_config.num_steps (e.g. model_main's
  --num_train_steps) stretches a cosine schedule that ended with the file's
  training to end with the new one (`stretch_schedule`; warmup_steps or
  hold_base_rate_steps given as overrides keep the given value). With
  total_steps overridden too, or a file whose schedule and num_steps
  disagree, nothing is stretched and validation judges the values.
  """
  config = read_pipeline_config(path)
  before = _schedule_steps(config)
  merge_text_override(config, config_override or '')
  apply_key_value_overrides(config, overrides)
  after = _schedule_steps(config)
  if len(before) == len(after) > 1 and before[1] == after[1] and (
      after[0] not in (0, before[0])):
    length = before[0] or before[1]
    if length == before[1]:
      cosine = _cosine_schedule(config)
      given = {field: getattr(cosine, field)
               for field, old, new in zip(_SCHEDULE_STEPS[1:], before[2:],
                                          after[2:]) if old != new}
      stretch_schedule(config, length)
      for field, value in given.items():
        setattr(cosine, field, value)
      logging.info('train_config.num_steps %d: the learning-rate schedule '
                   'is stretched from %d to %d steps (%s)', after[0], length,
                   after[0], ', '.join(
                       f'{f} {v}' for f, v in zip(
                           _SCHEDULE_STEPS, _schedule_steps(config)[1:])))
  validate(config, source=path)
  return config


def pipeline_config_to_text(config: pipeline_pb2.TrainEvalPipelineConfig
                            ) -> str:
  return text_format.MessageToString(config)


def save_pipeline_config(config: pipeline_pb2.TrainEvalPipelineConfig,
                         directory: str,
                         filename: str = PIPELINE_CONFIG_NAME) -> str:
  """Writes the config to `directory/filename` atomically; returns the path."""
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, filename)
  fd, tmp_path = tempfile.mkstemp(prefix=f'.{filename}.', dir=directory)
  try:
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
      f.write(pipeline_config_to_text(config))
    os.replace(tmp_path, path)
  except BaseException:
    if os.path.exists(tmp_path):
      os.remove(tmp_path)
    raise
  return path


def eval_input_reader(config: pipeline_pb2.TrainEvalPipelineConfig,
                      source: str = 'pipeline config',
                      fall_back_to_train: bool = False):
  """The input reader evaluation, export and inference take clips from.

  The first eval_input_reader: its frames_per_clip, frame_stride and image
  size define the clips the model is built for outside training.

  Args:
    config: the pipeline config.
    source: how the error names the config (e.g. its path).
    fall_back_to_train: without an eval_input_reader, take the
      train_input_reader (an export of a config that evaluates nothing).

  Raises:
    ConfigError: the config has no eval_input_reader (and no fall-back).
  """
  if config.eval_input_reader:
    return config.eval_input_reader[0]
  if fall_back_to_train:
    return config.train_input_reader
  raise ConfigError(
      f'{source}: eval_input_reader: the config has none (its '
      'frames_per_clip, frame_stride and image size define the clip)')
