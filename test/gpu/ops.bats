#!/usr/bin/env bats
# CUDA ops against their CPU twins (build/test/gpu_ops_check, from test/c/gpu_ops_check.c):
# every op forward and backward on several shapes, normalised error under 1e-5 per output.
# Skipped where there is no usable GPU (the program then prints "SKIP: <reason>").

setup() {
    cd "$BATS_TEST_DIRNAME/../.."
    [ -x build/test/gpu_ops_check ] || skip "build/test/gpu_ops_check is not built (run make)"
}

@test "gpu_ops_check: every CUDA op matches its CPU twin" {
    run build/test/gpu_ops_check
    if [ "${lines[0]%%:*}" = SKIP ]; then
        # a GPU that nvidia-smi lists but CUDA cannot use (e.g. a driver older than the
        # toolkit) is a failure, not a skip, unless the build has no CUDA at all
        if [[ "${lines[0]}" != *"built without nvcc"* ]] && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
            echo "nvidia-smi lists a GPU, but: ${lines[0]}"
            false
        fi
        skip "${lines[0]#SKIP: }"
    fi
    printf '%s\n' "$output" | grep -v '^ok ' || true   # shown if the test fails
    [ "$status" -eq 0 ]
    [ "${lines[${#lines[@]}-1]%%:*}" = PASS ]
    [ -z "$(printf '%s\n' "$output" | grep '^FAIL ')" ]
}

@test "gpu_ops_check: the CUDA objects and nocuda.c export the same C functions" {
    # build/cuda/*.o exist only in a build with nvcc; nocuda.c is then compiled here to compare
    compgen -G 'build/cuda/*.o' >/dev/null || skip "built without nvcc"
    command -v nm >/dev/null || skip "no nm"
    tmp=$(mktemp -d)
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -Ilib -Ikernels -c kernels/nocuda.c -o "$tmp/nocuda.o"
    nm -g --defined-only "$tmp/nocuda.o" | awk 'NF == 3 {print $3}' | sort > "$tmp/stub"
    nm -g --defined-only build/cuda/*.o | awk 'NF == 3 && $3 !~ /^(_Z|DW\.ref)/ {print $3}' |
        sort -u > "$tmp/cuda"
    run diff "$tmp/stub" "$tmp/cuda"
    rm -rf "$tmp"
    echo "$output"   # shown if the test fails: < only in nocuda.c, > only in the CUDA objects
    [ "$status" -eq 0 ]
}
