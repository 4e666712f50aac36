#!/usr/bin/env bash
# The GPU checks of issues #4 and #23 in one short run, for a session that is lent a GPU machine (the `device` tool):
# the CUDA tests (fp32 and bf16, channels_last, CPU == GPU, the fast Atari path; load() on CUDA leaves the cuDNN
# flags and the CUDA generators as they were, before and after CUDA starts) and the training-throughput
# benchmark on the GPU (SB3 PPO against PPOG in fp32 and in bf16, one run, alternating), then "speed must not cost
# learning": PPOG on Space Invaders, $LEARN_STEPS steps (default 200k; 0 skips it) x seeds 1 2, fp32 against bf16,
# four runs at once; their zoo-layout logs come back as gpu_runs.tgz (draw them here with
# `ppog-zoo compare -f gpu_runs/fp32 ...` and `-f gpu_runs/bf16`).
#
# That machine has PyTorch with CUDA (Python 3.12) but not SB3, gymnasium or ale-py, and reaches no network. Before
# the run, download their wheels here into .whl/ (kept out of git) so they travel with the working tree:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform any -d .whl stable-baselines3==2.9.2 sb3-contrib==2.9.2 "gymnasium>=1.0,<2" ale-py==0.12.1 \
#     farama-notifications hypothesis
# then: run(command="bash benchmarks/gpu_check.sh", timeout_s=600). Results land in $OUT (or ./gpu_check/).
# Self-checking: the last line is "GPU CHECK: PASS" or "GPU CHECK: FAIL (...)", and the exit status is non-zero on FAIL
# (the tests failed or were skipped for want of a GPU, or a learning run failed); the throughput figures are measurements.
set -uo pipefail
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu ROUNDS=0 LEARN_STEPS=2048 bash benchmarks/gpu_check.sh: a smoke run of the script
ROUNDS=${ROUNDS:-2}
if [ -d .whl ]; then
  $PYTHON -m pip install -q --no-index --no-deps .whl/*.whl 2>&1 | tail -3
fi
$PYTHON -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/nvidia_smi.csv"
$PYTHON -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0), 'bf16:', torch.cuda.is_bf16_supported())" \
  | tee "$OUT/torch.txt"
failures=()
timeout 240 $PYTHON -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py tests/test_precision.py 2>&1 | tee "$OUT/pytest_cuda.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || failures+=("pytest")
grep -q "SKIPPED.*test_cuda.py" "$OUT/pytest_cuda.txt" && failures+=("CUDA tests skipped")
if [ "$ROUNDS" -gt 0 ]; then
  timeout 200 $PYTHON benchmarks/throughput.py --device "$DEVICE" --rounds "$ROUNDS" --rollouts 4 \
    --variants ppo ppog-fast-fp32 ppog-fast-bf16 2>&1 | tee "$OUT/throughput_$DEVICE.txt"
fi
LEARN_STEPS=${LEARN_STEPS:-200000}
if [ "$LEARN_STEPS" -gt 0 ]; then
  rm -rf gpu_runs gpu_runs_*.log
  for precision in fp32 bf16; do
    for seed in 1 2; do
      OMP_NUM_THREADS=2 timeout 240 $PYTHON benchmarks/learning_curves.py --algo ppog --env ppog/SpaceInvaders-v5 \
        --seed "$seed" -n "$LEARN_STEPS" -f "gpu_runs/$precision" --device "$DEVICE" --params "precision:$precision" \
        > "gpu_runs_${precision}_${seed}.log" 2>&1 &
    done
  done
  for job in $(jobs -p); do wait "$job" || failures+=("a learning run"); done
  tail -n 3 gpu_runs_*.log > "$OUT/learning_logs.txt"
  tar czf "$OUT/gpu_runs.tgz" gpu_runs
fi
if [ ${#failures[@]} -eq 0 ]; then
  echo "GPU CHECK: PASS" | tee "$OUT/verdict.txt"
else
  echo "GPU CHECK: FAIL (${failures[*]})" | tee "$OUT/verdict.txt"
  exit 1
fi
