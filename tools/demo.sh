#!/usr/bin/env bash
# The demo behind `make demo`: runs the whole job on the bundled synthetic
# relational dataset, as far as the pipeline exists, and says where the
# results are. Steps whose tool does not exist yet are reported as such.
set -euo pipefail

PY=${PY:-python3}
WORKSPACE=${WORKSPACE:-workspace}
DATA="$WORKSPACE/data/synthetic_tiny"
RECORDS="$WORKSPACE/records/synthetic_tiny"
CONFIG=configs/synthetic/acrn_tiny.config

step() { printf '\n== %s\n' "$*"; }
missing() {
  printf '   not yet available: %s\n' "$*"
  printf '\nThe demo stops here: the remaining steps (train, evaluate, export, infer)\n'
  printf 'arrive with the model, model_main, exporter and infer_video tools.\n'
  exit 0
}

step "1/6 generate the synthetic dataset (preset tiny) in $DATA"
[ -f tools/make_synthetic_dataset.py ] || missing tools/make_synthetic_dataset.py
if [ -f "$DATA/annotations/dataset_info.json" ]; then
  echo "   already there; delete $DATA to regenerate"
else
  "$PY" tools/make_synthetic_dataset.py --output_dir "$DATA" --preset tiny \
    --write_preview_png "$DATA/preview.png"
fi

step "2/6 convert it to TFRecords with the AVA converter in $RECORDS"
[ -f tools/create_ava_tf_record.py ] || missing tools/create_ava_tf_record.py
for split in train val test; do
  "$PY" tools/create_ava_tf_record.py \
    --videos_dir "$DATA/videos" \
    --annotation_csv "$DATA/annotations/$split.csv" \
    --label_map_path "$DATA/annotations/label_map.pbtxt" \
    --excluded_timestamps_csv "$DATA/annotations/excluded_timestamps.csv" \
    --output_path "$RECORDS/$split" \
    --frames_per_clip 8 --frame_stride 1 --num_shards 2
done

step "3/6 read the records back through the input pipeline and check them against the csv"
[ -f tools/check_records.py ] || missing tools/check_records.py
"$PY" tools/check_records.py --pipeline_config_path "$CONFIG" \
  --annotation_csv "$DATA/annotations/train.csv" \
  --label_map_path "$DATA/annotations/label_map.pbtxt"

step "4/6 train the tiny ACRN"
[ -f tools/model_main.py ] || missing tools/model_main.py
