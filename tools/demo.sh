#!/usr/bin/env bash
# The demo behind `make demo`: runs the whole job on the bundled synthetic
# relational dataset (generate, convert, check, train, evaluate, export,
# infer on a held-out video) and says where the results are.
set -euo pipefail

PY=${PY:-python3}
WORKSPACE=${WORKSPACE:-workspace}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
DATA="$WORKSPACE/data/synthetic_tiny"
RECORDS="$WORKSPACE/records/synthetic_tiny"
CONFIG=configs/synthetic/acrn_tiny.config

step() { printf '\n== %s\n' "$*"; }

step "1/7 generate the synthetic dataset (preset tiny) in $DATA"
if [ -f "$DATA/annotations/dataset_info.json" ]; then
  echo "   already there; delete $DATA to regenerate"
else
  "$PY" tools/make_synthetic_dataset.py --output_dir "$DATA" --preset tiny \
    --write_preview_png "$DATA/preview.png"
fi

step "2/7 convert it to TFRecords with the AVA converter in $RECORDS"
for split in train val test; do
  "$PY" tools/create_ava_tf_record.py \
    --videos_dir "$DATA/videos" \
    --annotation_csv "$DATA/annotations/$split.csv" \
    --label_map_path "$DATA/annotations/label_map.pbtxt" \
    --excluded_timestamps_csv "$DATA/annotations/excluded_timestamps.csv" \
    --output_path "$RECORDS/$split" \
    --frames_per_clip 8 --frame_stride 1 --num_shards 2
done

step "3/7 read the records back through the input pipeline and check them against the csv"
# The config's reader, with its paths under workspace/ pointed at $WORKSPACE.
"$PY" tools/check_records.py --pipeline_config_path "$CONFIG" \
  --input_path "$RECORDS/train-?????-of-?????.tfrecord" \
  --annotation_csv "$DATA/annotations/train.csv" \
  --label_map_path "$DATA/annotations/label_map.pbtxt" \
  --excluded_timestamps_csv "$DATA/annotations/excluded_timestamps.csv"

MODEL="$WORKSPACE/models/acrn_tiny"
# The config names paths under workspace/; point them at $WORKSPACE.
PATHS=(
  --override "train_input_reader.tf_record_input_reader.input_path=$RECORDS/train-?????-of-?????.tfrecord"
  --override "eval_input_reader.tf_record_input_reader.input_path=$RECORDS/val-?????-of-?????.tfrecord"
  --override "train_input_reader.label_map_path=$DATA/annotations/label_map.pbtxt"
  --override "eval_input_reader.label_map_path=$DATA/annotations/label_map.pbtxt"
)
step "4/7 train the tiny ACRN in $MODEL (resumes if checkpoints are there)"
mkdir -p "$MODEL"
set +e
"$PY" tools/model_main.py --pipeline_config_path "$CONFIG" "${PATHS[@]}" \
  --model_dir "$MODEL" --alsologtostderr 2>&1 | tee "$MODEL/train.log" | \
  grep --line-buffered -E "step [0-9]+/|Resumed|Already|saved checkpoint|rror"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { echo "training failed (exit $status); see $MODEL/train.log"; exit 1; }

step "5/7 evaluate the last checkpoint on the val split"
"$PY" tools/model_main.py --pipeline_config_path "$CONFIG" "${PATHS[@]}" \
  --model_dir "$MODEL/eval_job" --checkpoint_dir "$MODEL" --eval_timeout 1 \
  --alsologtostderr 2>&1 | sed -n '/frame_ap at step/,/mean/p'
echo "   reports: $MODEL/eval_job/eval/step_*/{frame_ap,ava_frame_ap}/ (metrics.json, per_class_ap.csv, pr_curves.png)"
echo "   TensorBoard: tensorboard --logdir $MODEL"

EXPORT="$WORKSPACE/exported/acrn_tiny"
step "6/7 export the trained model as a SavedModel in $EXPORT"
"$PY" tools/exporter_main.py --input_type video_tensor \
  --pipeline_config_path "$MODEL/pipeline.config" \
  --trained_checkpoint_dir "$MODEL" --output_directory "$EXPORT"

VIDEO="$DATA/videos/test_00000.mp4"
INFERENCE="$WORKSPACE/inference/test_00000"
step "7/7 run the export on a held-out video ($VIDEO)"
"$PY" tools/infer_video.py --video "$VIDEO" --saved_model_dir "$EXPORT" \
  --output_dir "$INFERENCE" --keyframes_per_second 2 --min_score 0.3 \
  --heatmap_frames_dir "$INFERENCE/heatmap_frames"

printf '\nDone. Results:\n'
echo "   metrics:        $MODEL/eval_job/eval/step_*/frame_ap/metrics.json"
echo "   SavedModel:     $EXPORT/saved_model (see docs/serving.md)"
echo "   detections:     $INFERENCE/detections.csv (AVA format), $INFERENCE/tubes.json"
echo "   rendered video: $INFERENCE/rendered.mp4"
echo "   heat-map frames: $INFERENCE/heatmap_frames/"
