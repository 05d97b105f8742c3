#!/usr/bin/env bats
# reader_errors.bats: the readers of files from outside return their errors (lib/README.md,
# "Errors"): build/test/reader_errors (test/c/reader_errors.c) feeds dfgan_import, cki_open, the
# npz and zip readers, netg_infer_err, the pickle VM, the DAMSM vocabulary, CLIP's merges, the
# YAML config and the image loaders truncated, corrupt and ill-fitting files (600 mutations of a
# legacy DF-GAN checkpoint among them) in one process: each must return -1 or NULL with a one-line
# message and print nothing, and the process must live on to the end.

load helpers

@test "every reader returns -1 with one line on bad input, prints nothing, and the process goes on" {
  run --separate-stderr reader_errors "$ROOT/test/fixtures" "$T"
  if [ "$status" -ne 0 ] || [ -n "$stderr" ]; then
    echo "expected exit 0 and nothing on stderr, found $status: $stderr" >&2; return 1
  fi
  [[ "$output" == *" checks passed (of 600 legacy mutations "*" refused by dfgan_import, the rest by cki_open)" ]]
  n=${output%% *}
  [ "$n" -ge 600 ]
}
