"""Builds the relation module from its config (`relation_pb2.RelationModule`).

The feature extractor's and action head's configs decide what the module's
own layers look like: the relation head's S3D-G blocks are built like the
action head's (same depth multiplier and block settings, so both load the
same pretrained Mixed_5b/5c), g_theta outputs as many channels as F has
(the input the pretrained Mixed_5b takes) unless `relation_channels` says
otherwise, and kernels get the extractor's weight decay.
"""

from typing import Any, Dict, Optional

from acrn_tf.models import s3dg
from acrn_tf.protos import action_head_pb2
from acrn_tf.protos import relation_pb2
from acrn_tf.protos import s3dg_pb2
from acrn_tf.relation import acrn
from acrn_tf.relation import none
from acrn_tf.relation import relation_module
from acrn_tf.relation import resize_concat
from acrn_tf.relation import santoro


def s3dg_head_kwargs(
    feature_extractor_config: s3dg_pb2.S3dgFeatureExtractor,
    action_head_config: action_head_pb2.ActionHead) -> Dict[str, Any]:
  """`s3dg.S3DGHead` keyword arguments of a head on F (Mixed_5b/5c).

  Args:
    feature_extractor_config: the S3D-G settings (depth multiplier, block
      switches, batch norm, weight decay).
    action_head_config: `head_depth_multiplier` (0: the extractor's).

  Returns:
    dict of S3DGHead arguments (without name and include_max_pool).
  """
  extractor = feature_extractor_config
  depth_multiplier = (action_head_config.head_depth_multiplier or
                      extractor.depth_multiplier)
  return {
      'temporal_conv_startat': extractor.temporal_conv_startat or None,
      'gating_startat': extractor.gating_startat or None,
      'depth_multiplier': depth_multiplier,
      'min_depth': extractor.min_depth,
      'batch_norm_decay': extractor.batch_norm_decay,
      'batch_norm_epsilon': extractor.batch_norm_epsilon,
      'weight_decay': extractor.weight_decay,
      'use_frozen_batch_norm': extractor.use_frozen_batch_norm,
  }


def feature_map_channels(
    feature_extractor_config: s3dg_pb2.S3dgFeatureExtractor) -> int:
  """Channels of F (the flattened `feature_endpoint`), e.g. 832 at Mixed_4f."""
  extractor = feature_extractor_config
  endpoint = s3dg.ENDPOINTS[s3dg.endpoint_index(
      extractor.feature_endpoint, 'feature_extractor.feature_endpoint')]
  return s3dg.endpoint_specs(extractor.depth_multiplier,
                             extractor.min_depth)[endpoint].channels


def build_relation_module(
    relation_config: Optional[relation_pb2.RelationModule],
    feature_extractor_config: Optional[s3dg_pb2.S3dgFeatureExtractor] = None,
    action_head_config: Optional[action_head_pb2.ActionHead] = None
) -> relation_module.RelationModule:
  """Returns the relation module `relation_config` describes.

  Args:
    relation_config: the model's `relation_module` (None or no kind set:
      `none`, the Base-Model).
    feature_extractor_config: the model's `feature_extractor` (default
      message if None).
    action_head_config: the model's `action_head` (default message if None).

  Returns:
    A `RelationModule`: `NoRelation`, `ResizeConcat`, `SantoroRelation` or
    `ActorCentricRelation`. Its `scene_endpoints` are the endpoints the
    feature extractor must flatten as scene maps.

  Raises:
    ValueError: an unknown kind; values out of range are refused before, by
      `config_validation.validate_pipeline` (and by the layers themselves).
  """
  relation_config = relation_config or relation_pb2.RelationModule()
  extractor = feature_extractor_config or s3dg_pb2.S3dgFeatureExtractor()
  head = action_head_config or action_head_pb2.ActionHead()
  kind = relation_config.WhichOneof('relation_module_oneof') or 'none'
  if kind == 'none':
    return none.NoRelation()

  # Field values were checked by config_validation; the layers check what a
  # direct Python caller could get wrong.
  features = [(f.endpoint, f.scale) for f in relation_config.scene_features]
  common = {
      # Unset: F itself (the extractor's feature endpoint, Mixed_4f).
      'scene_features': features or [(extractor.feature_endpoint, 1.0)],
      'gradient_multiplier': relation_config.gradient_multiplier,
      'normalize_and_rescale': relation_config.normalize_and_rescale,
      'actor_feature_in_g_theta': relation_config.actor_feature_in_g_theta,
      'weight_decay': extractor.weight_decay,
  }
  if kind == 'resize_concat':
    return resize_concat.ResizeConcat(**common)
  if kind == 'santoro':
    return santoro.SantoroRelation(
        num_units=relation_config.santoro.num_units, decompose_g_theta=True,
        **common)
  if kind == 'acrn':
    config = relation_config.acrn
    return acrn.ActorCentricRelation(
        relation_channels=(config.relation_channels or
                           feature_map_channels(extractor)),
        head_config=s3dg_head_kwargs(extractor, head),
        inflated_time_steps=head.inflated_time_steps,
        decompose_g_theta=config.decompose_g_theta,
        **common)
  raise ValueError(f'relation_module: unknown kind {kind!r}.')
