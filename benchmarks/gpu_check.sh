#!/usr/bin/env bash
# On a machine with a CUDA GPU: the tests marked `gpu`, a short LoRA build in bf16 and a quick
# compare, each timed; a summary of the timings at the end. Nothing in CI needs it.
#
#     benchmarks/gpu_check.sh            # from the repository root or anywhere in it
#     PYTHON=/path/to/python benchmarks/gpu_check.sh
#
# Without a CUDA device it stops at once: one line on stderr, exit 2. Otherwise the exit status
# is 0 when every step passed, 1 when one failed (the steps after it still run). The runs go
# to a temporary folder (GPU_CHECK_OUT=DIR to keep them).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"

"$PYTHON" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 2)' 2>/dev/null
case $? in
  0) ;;
  2) echo "gpu_check: no CUDA device here (torch.cuda.is_available() is False for $PYTHON): nothing to check" >&2
     exit 2 ;;
  *) echo "gpu_check: $PYTHON cannot import torch (set PYTHON=, or run make install): nothing to check" >&2
     exit 2 ;;
esac

OUT="${GPU_CHECK_OUT:-$(mktemp -d -t gpu-check.XXXXXX)}"
mkdir -p "$OUT"
"$PYTHON" -c 'import torch; print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}, bf16 {torch.cuda.is_bf16_supported()}")'
echo "gpu_check: runs in $OUT"

names=() times=() codes=() failed=0
step() {  # step NAME COMMAND...: run it, record its wall time and exit status
  local name="$1"; shift
  echo
  echo "== $name: $*"
  local t0=$SECONDS
  "$@"
  local rc=$?
  names+=("$name") times+=($((SECONDS - t0))) codes+=("$rc")
  [[ $rc -eq 0 ]] || failed=1
}

step "tests marked gpu" "$PYTHON" -m pytest -q -p no:cacheprovider -m gpu tests
step "LoRA build, bf16, 8 steps" "$PYTHON" -m assistant build ft --domain support --quick --device cuda \
  --precision bf16 --max-steps 8 --out "$OUT/build"
step "quick compare, bf16" "$PYTHON" -m assistant compare --domain support --quick --device cuda \
  --precision bf16 --out "$OUT/compare"

echo
echo "gpu_check timings:"
for i in "${!names[@]}"; do
  printf '  %-28s %6ss  %s\n' "${names[$i]}" "${times[$i]}" "$([[ ${codes[$i]} -eq 0 ]] && echo ok || echo "FAILED (exit ${codes[$i]})")"
done
exit "$failed"
