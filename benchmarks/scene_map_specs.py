"""Scene-map specs: which S3D-G maps, at which scales, a relation relates to.

Table 1c of the paper varies the scene maps ACRN relates each actor to. The
accuracy benchmark names each choice by a spec, 'endpoint@scale' joined by
'+' (e.g. 'Conv2d_2c_3x3@0.5+Mixed_4f@0.5'), which is also the suffix of its
run's name; `parse` reads one, `of_config` writes a config's.
"""

from typing import Tuple

from acrn_tf.models import s3dg
from acrn_tf.protos import pipeline_pb2
from acrn_tf.protos import relation_pb2


def parse(spec: str) -> Tuple[Tuple[str, float], ...]:
  """'Conv2d_2c_3x3@0.5+Mixed_4f@0.5' -> (('Conv2d_2c_3x3', 0.5), ...).

  A spec names one or more S3D-G endpoints, each at a scale (table 1c).

  Raises:
    ValueError: naming the spec and the malformed part or unknown endpoint.
  """
  maps = []
  for part in spec.split('+'):
    endpoint, _, scale = part.partition('@')
    try:
      value = float(scale)
    except ValueError:
      value = float('nan')
    if not endpoint or not value > 0:
      raise ValueError(f'scene maps {spec!r}: expected endpoint@scale (scale '
                       f'> 0) joined by +, got {part!r}')
    s3dg.endpoint_index(endpoint, f'scene maps {spec!r}')
    maps.append((endpoint, value))
  return tuple(maps)


def of_config(config: pipeline_pb2.TrainEvalPipelineConfig) -> str:
  """The spec of the scene maps a config's relation module relates to.

  '' for a model without relation module; 'Mixed_4f@1' when the relation
  module names none (its default).
  """
  relation = config.model.video_faster_rcnn.relation_module
  if relation.WhichOneof('relation_module_oneof') in (None, 'none'):
    return ''
  features = relation.scene_features or [relation_pb2.SceneFeature()]
  return '+'.join(f'{f.endpoint}@{f.scale:g}' for f in features)
