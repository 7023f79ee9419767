#!/usr/bin/env bash
# The demo behind `make demo`: runs the whole job on the bundled synthetic
# relational dataset, as far as the pipeline exists, and says where the
# results are. Steps whose tool does not exist yet are reported as such.
set -euo pipefail

PY=${PY:-python3}
WORKSPACE=${WORKSPACE:-workspace}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
DATA="$WORKSPACE/data/synthetic_tiny"
RECORDS="$WORKSPACE/records/synthetic_tiny"
CONFIG=configs/synthetic/acrn_tiny.config

step() { printf '\n== %s\n' "$*"; }
missing() {
  printf '   not yet available: %s\n' "$*"
  printf '\nThe demo stops here: the remaining steps arrive with that tool.\n'
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
if [ -f tools/check_records.py ]; then
  # The config's reader, with its paths under workspace/ pointed at $WORKSPACE.
  "$PY" tools/check_records.py --pipeline_config_path "$CONFIG" \
    --input_path "$RECORDS/train-?????-of-?????.tfrecord" \
    --annotation_csv "$DATA/annotations/train.csv" \
    --label_map_path "$DATA/annotations/label_map.pbtxt" \
    --excluded_timestamps_csv "$DATA/annotations/excluded_timestamps.csv"
else
  echo "   not yet available: tools/check_records.py (continuing)"
fi

MODEL="$WORKSPACE/models/acrn_tiny"
# The config names paths under workspace/; point them at $WORKSPACE.
PATHS=(
  --override "train_input_reader.tf_record_input_reader.input_path=$RECORDS/train-?????-of-?????.tfrecord"
  --override "eval_input_reader.tf_record_input_reader.input_path=$RECORDS/val-?????-of-?????.tfrecord"
  --override "train_input_reader.label_map_path=$DATA/annotations/label_map.pbtxt"
  --override "eval_input_reader.label_map_path=$DATA/annotations/label_map.pbtxt"
)
step "4/6 train the tiny ACRN in $MODEL (resumes if checkpoints are there)"
mkdir -p "$MODEL"
set +e
"$PY" tools/model_main.py --pipeline_config_path "$CONFIG" "${PATHS[@]}" \
  --model_dir "$MODEL" --alsologtostderr 2>&1 | tee "$MODEL/train.log" | \
  grep --line-buffered -E "step [0-9]+/|Resumed|Already|saved checkpoint|rror"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { echo "training failed (exit $status); see $MODEL/train.log"; exit 1; }

step "5/6 evaluate the last checkpoint on the val split"
"$PY" tools/model_main.py --pipeline_config_path "$CONFIG" "${PATHS[@]}" \
  --model_dir "$MODEL/eval_job" --checkpoint_dir "$MODEL" --eval_timeout 1 \
  --alsologtostderr 2>&1 | sed -n '/frame_ap at step/,/mean/p'
echo "   reports: $MODEL/eval_job/eval/step_*/{frame_ap,ava_frame_ap}/ (metrics.json, per_class_ap.csv, pr_curves.png)"
echo "   TensorBoard: tensorboard --logdir $MODEL"

step "6/6 export a SavedModel and run it on a held-out video"
[ -f tools/exporter_main.py ] || missing tools/exporter_main.py
[ -f tools/infer_video.py ] || missing tools/infer_video.py
