"""Reads and writes label maps (`.pbtxt`), the class list of a dataset.

Two text forms are found in the wild and both are read:

  item {                          # the Object Detection API's form
    name: "catch"
    id: 2
    display_name: "catch a ball"  # optional
  }

  label {                         # AVA's action-list form
    name: "bend/bow (at the waist)"
    label_id: 1
    label_type: PERSON_MOVEMENT
  }

The `item {}` form is written. A label map is returned as a dict {id: name}
ordered by ascending id; ids are integers >= 1 (0 is background) and unique.

The text is parsed here rather than with a protobuf message: the project has
no label-map proto, the grammar needed is a handful of tokens, and a parser of
our own can name the file and line of every error. Fields other than the ones
above (`frequency`, `keypoints { ... }`, ...) are skipped.
"""

import os
import re
from typing import Dict, List, Mapping, Optional, Tuple

_TOKEN = re.compile(r'''
    (?P<space>[ \t\r\f\v]+|[,;])
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}:<>])
''', re.VERBOSE)
_ENTRY_BLOCKS = ('item', 'label')
_ID_FIELDS = ('id', 'label_id')
_ESCAPES = {'n': '\n', 't': '\t', 'r': '\r', '"': '"', "'": "'", '\\': '\\'}


class LabelMapError(ValueError):
  """A label map that cannot be read; the message names the file and line."""


def _unquote(literal: str) -> str:
  body = literal[1:-1]
  return re.sub(r'\\(.)', lambda m: _ESCAPES.get(m.group(1), m.group(0)),
                body)


def _tokenize(text: str, path: str) -> List[Tuple[str, str, int]]:
  """Splits text into (kind, value, line) tokens, dropping blanks/comments."""
  tokens, line, position = [], 1, 0
  while position < len(text):
    match = _TOKEN.match(text, position)
    if not match:
      raise LabelMapError(f'{path}:{line}: unexpected character '
                          f'{text[position]!r}')
    kind = match.lastgroup
    if kind == 'newline':
      line += 1
    elif kind not in ('space', 'comment'):
      tokens.append((kind, match.group(), line))
    position = match.end()
  return tokens


class _Parser:
  """A recursive reader of the protobuf text format subset label maps use."""

  def __init__(self, text: str, path: str):
    self._tokens = _tokenize(text, path)
    self._path = path
    self._position = 0

  def _peek(self):
    if self._position < len(self._tokens):
      return self._tokens[self._position]
    last_line = self._tokens[-1][2] if self._tokens else 1
    return ('end', '', last_line)

  def _next(self):
    token = self._peek()
    self._position += 1
    return token

  def _fail(self, line, message):
    raise LabelMapError(f'{self._path}:{line}: {message}')

  def _open_block(self, name_line):
    """Consumes an optional ':' and '{' or '<'; returns the closing token."""
    kind, value, line = self._next()
    if value == ':':
      kind, value, line = self._next()
    if kind != 'punct' or value not in '{<':
      self._fail(line if kind != 'end' else name_line,
                 f'expected "{{" after the block name, got {value or "end"!r}')
    return '}' if value == '{' else '>'

  def entries(self) -> List[Tuple[int, Dict[str, Tuple[str, str, int]]]]:
    """Returns (line, {field: (kind, value, line)}) per item/label block."""
    result = []
    while self._peek()[0] != 'end':
      kind, value, line = self._next()
      if kind != 'ident' or value not in _ENTRY_BLOCKS:
        self._fail(line, f'expected "item {{" or "label {{", got {value!r}')
      closing = self._open_block(line)
      result.append((line, self._fields(closing, line)))
    return result

  def _fields(self, closing, block_line):
    fields = {}
    while True:
      kind, value, line = self._next()
      if kind == 'end':
        self._fail(line, f'block opened on line {block_line} is not closed')
      if value == closing and kind == 'punct':
        return fields
      if kind != 'ident':
        self._fail(line, f'expected a field name, got {value!r}')
      name = value
      next_kind, next_value, _ = self._peek()
      if next_kind == 'punct' and next_value in '{<':
        self._skip_block(self._open_block(line), line)
        continue
      if next_value == ':':
        self._next()
      kind, value, value_line = self._next()
      if kind not in ('string', 'number', 'ident'):
        self._fail(value_line, f'field {name!r} has no value '
                   f'(got {value or "end"!r})')
      if name in fields:
        self._fail(line, f'field {name!r} given twice in one block')
      fields[name] = (kind, value, value_line)

  def _skip_block(self, closing, block_line):
    depth = 1
    while depth:
      kind, value, line = self._next()
      if kind == 'end':
        self._fail(line, f'block opened on line {block_line} is not closed')
      if kind == 'punct' and value in '{<':
        depth += 1
      elif kind == 'punct' and value in '}>':
        depth -= 1


def parse_label_map(text: str, path: str = '<string>',
                    use_display_name: bool = False) -> Dict[int, str]:
  """Parses label-map text (either form) into {id: name}, ordered by id.

  Args:
    text: the label map's contents.
    path: the file name used in error messages.
    use_display_name: take `display_name` as the name where an entry has one.

  Returns:
    {id: name} with ascending ids.

  Raises:
    LabelMapError: for a syntax error, an entry without an id or a name, an
      id that is not an integer >= 1, or an id given twice; the message
      names `path` and the line.
  """
  label_map = {}
  for block_line, fields in _Parser(text, path).entries():
    ids = [fields[f] for f in _ID_FIELDS if f in fields]
    if not ids:
      raise LabelMapError(f'{path}:{block_line}: entry has no `id` (or '
                          '`label_id`)')
    if len(ids) > 1:
      raise LabelMapError(f'{path}:{block_line}: entry has both `id` and '
                          '`label_id`')
    kind, value, line = ids[0]
    if kind != 'number' or not re.fullmatch(r'[-+]?\d+', value):
      raise LabelMapError(f'{path}:{line}: id must be an integer, got '
                          f'{value!r}')
    label_id = int(value)
    if label_id < 1:
      raise LabelMapError(f'{path}:{line}: id must be >= 1 (0 is the '
                          f'background), got {label_id}')
    if label_id in label_map:
      raise LabelMapError(f'{path}:{line}: id {label_id} is given twice')
    name_fields = (['display_name', 'name'] if use_display_name else
                   ['name', 'display_name'])
    name = None
    for field in name_fields:
      if field in fields:
        kind, value, line = fields[field]
        if kind != 'string':
          raise LabelMapError(f'{path}:{line}: {field} must be a quoted '
                              f'string, got {value!r}')
        name = _unquote(value)
        break
    if not name:
      raise LabelMapError(f'{path}:{block_line}: entry with id {label_id} '
                          'has no (or an empty) `name`')
    label_map[label_id] = name
  return dict(sorted(label_map.items()))


def read_label_map(path: str, use_display_name: bool = False
                   ) -> Dict[int, str]:
  """Reads a label map file (either form) into {id: name}, ordered by id.

  Raises:
    LabelMapError: if the file cannot be read, is empty or is malformed.
  """
  try:
    with open(path, encoding='utf-8') as f:
      text = f.read()
  except (OSError, UnicodeDecodeError) as e:
    raise LabelMapError(f'{path}: cannot read the label map: {e}') from e
  label_map = parse_label_map(text, path, use_display_name)
  if not label_map:
    raise LabelMapError(f'{path}: the label map has no entries')
  return label_map


def restrict_to_subset(label_map: Mapping[int, str],
                       subset: Mapping[int, str],
                       subset_source: str = '<subset>') -> Dict[int, str]:
  """Keeps the classes of `label_map` whose ids are in `subset`.

  Ids keep their values (AVA's 60 evaluated classes keep their ids from the
  80-class list), so records written with a subset read with either map.

  Args:
    label_map: the full {id: name}.
    subset: {id: name} of the classes to keep, e.g. read from another label
      map file.
    subset_source: the subset's file, for error messages.

  Returns:
    {id: name} of the kept classes, ordered by id.

  Raises:
    LabelMapError: if a subset id is not in `label_map` or names another
      class there.
  """
  for label_id, name in subset.items():
    if label_id not in label_map:
      raise LabelMapError(f'{subset_source}: class subset id {label_id} '
                          f'({name!r}) is not in the label map')
    if label_map[label_id] != name:
      raise LabelMapError(
          f'{subset_source}: class subset id {label_id} is named {name!r} '
          f'but the label map names it {label_map[label_id]!r}')
  return {i: n for i, n in label_map.items() if i in subset}


def load_label_map(path: str, class_subset_path: Optional[str] = None,
                   use_display_name: bool = False) -> Dict[int, str]:
  """Reads a label map, restricted to the classes of another one if given.

  Args:
    path: the label map (either form).
    class_subset_path: optional label map (either form) listing the classes
      to keep (e.g. AVA's 60 evaluated classes); ids must exist in `path`.
    use_display_name: see `parse_label_map`.

  Returns:
    {id: name} ordered by id.
  """
  label_map = read_label_map(path, use_display_name)
  if class_subset_path:
    label_map = restrict_to_subset(
        label_map, read_label_map(class_subset_path, use_display_name),
        class_subset_path)
  return label_map


def get_label_map_dict(path: str, use_display_name: bool = False
                       ) -> Dict[str, int]:
  """Reads a label map into {name: id} (the OD API's `get_label_map_dict`).

  Raises:
    LabelMapError: as `read_label_map`, or when two ids share a name.
  """
  result = {}
  for label_id, name in read_label_map(path, use_display_name).items():
    if name in result:
      raise LabelMapError(f'{path}: name {name!r} is used by ids '
                          f'{result[name]} and {label_id}')
    result[name] = label_id
  return result


def names_to_ids(label_map: Mapping[int, str]) -> Dict[str, int]:
  """Inverts {id: name}; a name used twice maps to None (ambiguous)."""
  result = {}
  for label_id, name in label_map.items():
    result[name] = None if name in result else label_id
  return result


def _quote(name: str) -> str:
  escaped = name.replace('\\', '\\\\').replace('"', '\\"').replace(
      '\n', '\\n')
  return f'"{escaped}"'


def format_label_map(label_map: Mapping[int, str]) -> str:
  """Formats {id: name} as `item { name: "..." id: N }` text, by id."""
  _check_label_map(label_map)
  return ''.join(f'item {{\n  name: {_quote(name)}\n  id: {label_id}\n}}\n'
                 for label_id, name in sorted(label_map.items()))


def write_label_map(path: str, label_map: Mapping[int, str]) -> None:
  """Writes {id: name} in the `item {}` form, atomically (temp + rename)."""
  text = format_label_map(label_map)
  directory = os.path.dirname(path)
  if directory:
    os.makedirs(directory, exist_ok=True)
  temporary = os.path.join(directory,
                           f'.{os.path.basename(path)}.tmp-{os.getpid()}')
  try:
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write(text)
    os.replace(temporary, path)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)


def _check_label_map(label_map: Mapping[int, str]) -> None:
  for label_id, name in label_map.items():
    if not isinstance(label_id, int) or label_id < 1:
      raise LabelMapError(f'label map id {label_id!r} must be an integer '
                          '>= 1')
    if not name:
      raise LabelMapError(f'label map id {label_id} has an empty name')

