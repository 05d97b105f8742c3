#!/usr/bin/env bash
# bench/fid_bench.sh: bin/fid at d = 2048 against pytorch-fid's scipy sqrtm route, in the same run.
# For each case N1:N2 (default 5000:5000, full-rank covariances; add e.g. 500:500 for N < d):
# stats of N1 and N2 realistic 2048-d features (bench/fid_bench.py), then REPEAT interleaved runs
# of our whole `fid` process (load, compute, print) and of scipy's calculate_frechet_distance
# (compute only), both allowed $THREADS threads; the best time of each. Prints both times, the
# ratio and both results. On shared cores the times move with the load; the interleaving and
# the best-of keep the comparison fair. As bench/run.sh, it unsets the workplace's
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE pinning (KEEP_OPENBLAS_ENV=1 keeps it), for both sides: numpy
# and scipy use the same OpenBLAS.
# Needs numpy and scipy (Debian: python3-scipy). Not part of `make test`.
#   CASES="5000:5000 500:500 500:5000" REPEAT=5 THREADS=2 bench/fid_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=
for p in "${PYTHON:-python3}" python3 /usr/bin/python3; do
  if "$p" -c 'import numpy, scipy' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then echo "== fid: no Python with numpy and scipy here; no comparison"; exit 0; fi
[ -x bin/fid ] || make bin/fid
export OMP_NUM_THREADS="${THREADS:-2}" OPENBLAS_NUM_THREADS="${THREADS:-2}"
[ -n "${KEEP_OPENBLAS_ENV:-}" ] || unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
REPEAT="${REPEAT:-5}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for c in ${CASES:-5000:5000}; do
  n1=${c%%:*} n2=${c##*:}
  "$PY" bench/fid_bench.py make "$tmp" "$n1" "$n2"
  best= st=
  for _ in $(seq "$REPEAT"); do      # interleaved, so that both sides meet the same load
    t0=$(date +%s.%N)
    ours=$(bin/fid --verbose "$tmp/a.npz" "$tmp/b.npz" 2>"$tmp/err")
    t1=$(date +%s.%N)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$s
      route=$(sed -n 's/.* by the \([a-z]*\) route, eps \([a-z ]*\), \([0-9.]*\) s on \(.*\)$/\1 route, eps \2, compute \3 s on \4/p' "$tmp/err")
    fi
    theirs=$("$PY" bench/fid_bench.py scipy "$tmp" 1)
    s=$(awk '$1=="scipy_s"{print $2}' <<<"$theirs")
    if [ -z "$st" ] || awk -v a="$s" -v b="$st" 'BEGIN { exit !(a < b) }'; then st=$s; fi
  done
  sv=$(awk '$1=="scipy_fid"{print $2}' <<<"$theirs")
  se=$(awk '$1=="scipy_fid"{print $3}' <<<"$theirs")
  echo "== fid d=2048, N=$n1 vs $n2, $OMP_NUM_THREADS threads, best of $REPEAT"
  echo "   ours  (bin/fid, whole process) $best s   FID $ours   ($route)"
  echo "   scipy (pytorch-fid sqrtm)      $st s   FID $sv   (eps added: $se)"
  oc=$(sed -n 's/.*compute \([0-9.]*\) s.*/\1/p' <<<"$route")
  awk -v a="$best" -v c="$oc" -v b="$st" -v x="$ours" -v y="$sv" 'BEGIN {
    r = x - y; if (r < 0) r = -r
    printf "   scipy/ours %.1fx whole process, %.1fx compute only (target >= 4x whole process)\n", b / a, b / c
    printf "   |ours - scipy| / scipy = %.2e (target < 1e-6)\n", r / y }'
done
