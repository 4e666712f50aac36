#!/usr/bin/env bash
# The GPU checks of issue #4 in one short run, for a session that is lent a GPU machine (the `device` tool):
# the CUDA tests (fp32 and bf16, channels_last, CPU == GPU, the fast Atari path) and the training-throughput
# benchmark on the GPU (SB3 PPO against PPOG in fp32 and in bf16, one run, alternating).
#
# That machine has PyTorch with CUDA (Python 3.12) but not SB3, gymnasium or ale-py, and reaches no network. Before
# the run, download their wheels here into .whl/ (kept out of git) so they travel with the working tree:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform any -d .whl stable-baselines3==2.9.2 "gymnasium>=1.0,<2" ale-py==0.12.1 farama-notifications \
#     hypothesis
# then: run(command="bash benchmarks/gpu_check.sh", timeout_s=540). Results land in $OUT (or ./gpu_check/).
set -uo pipefail
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"
PYTHON=${PYTHON:-python3}
if [ -d .whl ]; then
  $PYTHON -m pip install -q --no-index --no-deps .whl/*.whl 2>&1 | tail -3
fi
$PYTHON -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/nvidia_smi.csv"
$PYTHON -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0), 'bf16:', torch.cuda.is_bf16_supported())" \
  | tee "$OUT/torch.txt"
timeout 180 $PYTHON -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_precision.py 2>&1 | tee "$OUT/pytest_cuda.txt"
timeout 300 $PYTHON benchmarks/throughput.py --device cuda --rounds 2 --rollouts 4 \
  --variants ppo ppog-fast-fp32 ppog-fast-bf16 2>&1 | tee "$OUT/throughput_cuda.txt"
