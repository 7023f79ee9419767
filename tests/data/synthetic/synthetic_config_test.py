"""SyntheticConfig: presets, derived timing, overrides and validation errors."""

import dataclasses

import pytest

from acrn_tf.data.synthetic import synthetic_config


def test_presets_are_valid_and_sized_as_documented():
  tiny = synthetic_config.PRESETS['tiny'].validate()
  assert (tiny.num_train_videos, tiny.num_val_videos,
          tiny.num_test_videos) == (24, 8, 8)
  assert (tiny.frame_height, tiny.frame_width, tiny.fps,
          tiny.duration_seconds) == (96, 128, 10, 6)
  benchmark = synthetic_config.PRESETS['benchmark'].validate()
  assert (benchmark.num_train_videos, benchmark.num_val_videos,
          benchmark.num_test_videos) == (240, 60, 60)
  assert benchmark.duration_seconds == 8
  assert tiny.preset == 'tiny' and benchmark.preset == 'benchmark'


def test_derived_timing():
  config = synthetic_config.PRESETS['tiny']
  assert config.num_frames == 60
  # Keyframes skip the first and the last second.
  assert config.keyframe_timestamps == (1, 2, 3, 4, 5)
  # 0.6 s flight at 10 fps: release 3 frames before the keyframe.
  assert config.flight_half_frames == 3
  assert dataclasses.replace(config, fps=8).flight_half_frames == 2
  assert config.video_fourcc == 'mp4v'
  assert dataclasses.replace(config, video_extension='.avi').video_fourcc == (
      'MJPG')


def test_class_ids_follow_the_classes_order():
  config = synthetic_config.PRESETS['tiny']
  assert [config.class_id(n) for n in synthetic_config.CLASS_NAMES] == [
      1, 2, 3, 4, 5, 6]
  subset = dataclasses.replace(config, classes=('look_at', 'throw'))
  assert subset.class_id('look_at') == 1 and subset.class_id('throw') == 2


def test_get_preset_applies_overrides():
  config = synthetic_config.get_preset('tiny', seed=7, num_train_videos=3)
  assert (config.seed, config.num_train_videos, config.num_val_videos) == (
      7, 3, 8)


def test_get_preset_rejects_unknown_names():
  with pytest.raises(ValueError, match="Unknown synthetic preset 'huge'"):
    synthetic_config.get_preset('huge')
  with pytest.raises(ValueError, match=r"Unknown SyntheticConfig fields \['"
                     r"num_videos'\]"):
    synthetic_config.get_preset('tiny', num_videos=3)


@pytest.mark.parametrize('field,value,message', [
    ('min_actors', 1, 'min_actors = 1: expected >= 2'),
    ('max_actors', 1, 'max_actors = 1: expected >= min_actors'),
    ('duration_seconds', 2, 'duration_seconds = 2: expected >= 3'),
    ('num_train_videos', -1, 'num_train_videos = -1'),
    ('frame_height', 32, 'frame_height = 32: expected >= 48'),
    ('flight_seconds', 1.0, 'flight_seconds = 1.0: expected shorter than one'),
    ('pass_probability', 1.5, 'pass_probability = 1.5'),
    ('classes', ('throw', 'jump'), "unknown: \\['jump'\\]"),
    ('classes', ('throw', 'throw'), 'no duplicates'),
    ('classes', (), 'at least one class'),
    ('video_extension', '.mkv', "expected one of \\['.avi', '.mp4'\\]"),
])
def test_validate_names_the_bad_field(field, value, message):
  config = dataclasses.replace(synthetic_config.PRESETS['tiny'],
                               **{field: value})
  with pytest.raises(ValueError, match=message):
    config.validate()


def test_seed_entropy_differs_per_split_and_video():
  entropies = {synthetic_config.video_seed_entropy(0, split, index)
               for split in synthetic_config.SPLITS for index in range(3)}
  assert len(entropies) == 9
  assert synthetic_config.video_seed_entropy(4, 'val', 2) == (4, 1, 2)


def test_stage_preset_is_sized_as_documented():
  stage = synthetic_config.PRESETS['stage'].validate()
  assert (stage.num_train_videos, stage.num_val_videos,
          stage.num_test_videos, stage.duration_seconds) == (240, 60, 60, 8)
  assert (stage.frame_height, stage.frame_width, stage.fps) == (96, 960, 10)
  assert (stage.min_actors, stage.max_actors, stage.layout) == (3, 3, 'stage')
  assert stage.walking_probability == 0.0
  # The old presets keep the scatter layout and today's ball size.
  for name in ('tiny', 'benchmark'):
    config = synthetic_config.PRESETS[name]
    assert (config.layout, config.ball_radius_fraction) == ('scatter', 0.035)


def test_relation_classes_are_class_names():
  assert synthetic_config.RELATION_CLASSES == ('pass', 'look_at')
  assert set(synthetic_config.RELATION_CLASSES) <= set(
      synthetic_config.CLASS_NAMES)


@pytest.mark.parametrize('field,value,message', [
    ('layout', 'ring', "layout = 'ring': expected one of"),
    ('max_play_balls', 1, 'max_play_balls = 1: expected >= 2 in the stage'),
    ('min_actors', 2, 'min_actors = 2: expected >= 3 in the stage'),
    ('min_actor_separation_px', 0.0, 'expected > 0 in the stage layout'),
    ('stage_edge_margin_px', -1.0, 'stage_edge_margin_px = -1.0: expected a '
     'distance >= 0'),
    ('look_range_px', -1.0, 'look_range_px = -1.0'),
    ('frame_width', 700, r'frame_width = 700: expected >= 736 pixels for 3 '
     'places 176 px apart and 192 px from the edges'),
    ('ball_radius_fraction', 0.2, 'ball_radius_fraction = 0.2'),
    ('outward_facing_probability', -0.1, 'outward_facing_probability'),
])
def test_validate_names_the_bad_stage_field(field, value, message):
  config = dataclasses.replace(synthetic_config.PRESETS['stage'],
                               **{field: value})
  with pytest.raises(ValueError, match=message):
    config.validate()
