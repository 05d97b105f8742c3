#!/usr/bin/env bats
# ops.bats: the CPU ops (lib/cpu/) against finite differences, naive references and their float
# twins; test/c/gradcheck.c does the work and exits non-zero on any failure.

setup() {
    cd "$BATS_TEST_DIRNAME/.."   # a missing binary (not built) fails the test, it is not skipped
}

@test "gradcheck: every CPU op's forward and gradients are right" {
    run build/test/gradcheck
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"gradcheck: all "*" checks passed"* ]]
    ! grep -q '^FAIL' <<<"$output"
}

@test "gradcheck: the threaded ops agree on one thread and on three" {
    for n in 1 3; do
        OMP_NUM_THREADS=$n run build/test/gradcheck
        echo "OMP_NUM_THREADS=$n: $output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"gradcheck: all "*" checks passed"* ]]
    done
}
