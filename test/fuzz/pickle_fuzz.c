/* pickle_fuzz.c: libFuzzer harness for the pickle VM (lib/io/pickle.c): the input run as pickles
 * back to back (as in a legacy torch file) until one fails or the input ends, each result looked
 * into (its type name, a dict's keys). Failures must carry a one-line message. The fuzz build
 * lowers pickle.h's bounds (see the Makefile's FUZZ_DEFS) so that a hostile input costs little.
 * Built and run by `make fuzz` (test/fuzz/run.sh). */
#include "io/pickle.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    pk_ctx c;
    memset(&c, 0, sizeof c);
    size_t pos = 0;
    for (int k = 0; k < 8 && pos < size; k++) {
        size_t used = 0;
        pk_obj *o = NULL;
        int r = pk_load(&c, data + pos, size - pos, "fuzz.pkl", &used, &o, err, sizeof err);
        fuzz_check_err(r != 0, err);
        if (r) break;
        if (!o || used == 0 || used > size - pos) abort();
        pos += used;
        (void)pk_type_name(o);
        if (o->type == PK_DICT) {
            (void)pk_dict_get(o, "state_dict");
            for (size_t i = 0; i < o->u.dict.n; i++) (void)pk_type_name(o->u.dict.kv[2 * i + 1]);
        }
    }
    pk_free(&c);
    return 0;
}
