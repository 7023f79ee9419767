"""label_map_util: both label-map forms, writing, subsets and errors."""

import pytest

from acrn_tf.data import label_map_util


def _write(tmp_path, text, name='map.pbtxt'):
  path = tmp_path / name
  path.write_text(text, encoding='utf-8')
  return str(path)


def test_item_form_with_comments_and_display_names(tmp_path):
  path = _write(tmp_path, '# classes\n'
                'item {\n  name: "wave"  # waving\n  id: 4\n'
                '  display_name: "Wave hands"\n}\n'
                "item { name: 'stand' id: 1 }\n"
                'item {\n  id: 2\n  name: "talk \\"to\\""\n'
                '  keypoints { id: 0 label: "nose" }\n}\n')
  label_map = label_map_util.read_label_map(path)
  assert label_map == {1: 'stand', 2: 'talk "to"', 4: 'wave'}
  assert list(label_map) == [1, 2, 4]
  assert label_map_util.read_label_map(path, use_display_name=True)[4] == (
      'Wave hands')


def test_ava_action_list_form(tmp_path):
  path = _write(tmp_path,
                'label {\n  name: "bend/bow (at the waist)"\n  label_id: 1\n'
                '  label_type: PERSON_MOVEMENT\n}\n'
                'label {\n  name: "answer phone"\n  label_id: 80\n'
                '  label_type: OBJECT_MANIPULATION\n}\n')
  assert label_map_util.read_label_map(path) == {
      1: 'bend/bow (at the waist)', 80: 'answer phone'}
  assert label_map_util.get_label_map_dict(path) == {
      'bend/bow (at the waist)': 1, 'answer phone': 80}


def test_write_then_read_round_trip(tmp_path):
  label_map = {3: 'say "hi"', 1: 'back\\slash', 7: 'walk'}
  path = str(tmp_path / 'out' / 'label_map.pbtxt')
  label_map_util.write_label_map(path, label_map)
  text = open(path, encoding='utf-8').read()
  assert text.startswith('item {\n  name: "back\\\\slash"\n  id: 1\n}\n')
  assert label_map_util.read_label_map(path) == dict(sorted(label_map.items()))
  assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [
      'label_map.pbtxt']


@pytest.mark.parametrize('text, message', [
    ('item { name: "a" id: 1 }\nitem { name: "b" id: 1 }\n',
     r'map\.pbtxt:2: id 1 is given twice'),
    ('item { name: "a" id: 0 }\n',
     r'map\.pbtxt:1: id must be >= 1 \(0 is the background\), got 0'),
    ('item {\n  name: "a"\n}\n', r'map\.pbtxt:1: entry has no `id`'),
    ('item {\n  name: "a"\n  id: 1.5\n}\n',
     r'map\.pbtxt:3: id must be an integer, got \'1.5\''),
    ('item {\n  id: 2\n', r'map\.pbtxt:2: block opened on line 1 is not '
     'closed'),
    ('item { id: 2 }\n', r'map\.pbtxt:1: entry with id 2 has no'),
    ('items {\n}\n', r'map\.pbtxt:1: expected "item \{" or "label \{", got '
     '\'items\''),
    ('item { name: "a" id: 1 name: "b" }\n',
     r"map\.pbtxt:1: field 'name' given twice"),
    ('\n\nitem { name: "a" id: 1 } $\n',
     r"map\.pbtxt:3: unexpected character '\$'"),
])
def test_errors_name_file_and_line(tmp_path, text, message):
  path = _write(tmp_path, text)
  with pytest.raises(label_map_util.LabelMapError, match=message):
    label_map_util.read_label_map(path)


def test_empty_and_missing_files(tmp_path):
  with pytest.raises(label_map_util.LabelMapError,
                     match=r'map\.pbtxt: the label map has no entries'):
    label_map_util.read_label_map(_write(tmp_path, '# nothing\n'))
  with pytest.raises(label_map_util.LabelMapError,
                     match=r'nope\.pbtxt: cannot read the label map'):
    label_map_util.read_label_map(str(tmp_path / 'nope.pbtxt'))


def test_class_subset_keeps_ids(tmp_path):
  full = _write(tmp_path, 'item { name: "a" id: 1 }\nitem { name: "b" id: 2 }'
                '\nitem { name: "c" id: 5 }\n', 'full.pbtxt')
  subset = _write(tmp_path, 'label { name: "c" label_id: 5 }\n'
                  'label { name: "a" label_id: 1 }\n', 'subset.pbtxt')
  assert label_map_util.load_label_map(full, subset) == {1: 'a', 5: 'c'}
  assert label_map_util.load_label_map(full) == {1: 'a', 2: 'b', 5: 'c'}


def test_class_subset_mismatches_are_refused(tmp_path):
  full = _write(tmp_path, 'item { name: "a" id: 1 }\n', 'full.pbtxt')
  unknown = _write(tmp_path, 'item { name: "z" id: 9 }\n', 'unknown.pbtxt')
  renamed = _write(tmp_path, 'item { name: "x" id: 1 }\n', 'renamed.pbtxt')
  with pytest.raises(label_map_util.LabelMapError,
                     match=r"unknown\.pbtxt: class subset id 9 \('z'\) is not "
                     'in the label map'):
    label_map_util.load_label_map(full, unknown)
  with pytest.raises(label_map_util.LabelMapError,
                     match=r"renamed\.pbtxt: class subset id 1 is named 'x' "
                     "but the label map names it 'a'"):
    label_map_util.load_label_map(full, renamed)


def test_duplicate_names(tmp_path):
  path = _write(tmp_path, 'item { name: "a" id: 1 }\nitem { name: "a" id: 3 '
                '}\nitem { name: "b" id: 2 }\n')
  with pytest.raises(label_map_util.LabelMapError,
                     match=r"name 'a' is used by ids 1 and 3"):
    label_map_util.get_label_map_dict(path)
  assert label_map_util.names_to_ids(
      label_map_util.read_label_map(path)) == {'a': None, 'b': 2}
