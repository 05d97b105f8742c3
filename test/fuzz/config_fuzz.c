/* config_fuzz.c: libFuzzer harness for the YAML config reader (lib/io/config.c over libyaml): the
 * input loaded as a config file (through a memfd path: config_load takes a path). A config it
 * accepts must hold a value for every schema key, and every value must survive a Make assignment
 * (config_make_quote never refuses one), since `cfg make` hands them to the pipelines. Failures
 * must carry a one-line message. Built and run by `make fuzz` (test/fuzz/run.sh). */
#include "io/config.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];
    config c;
    int r = config_load(&c, fuzz_memfile(data, size), err, sizeof err);
    fuzz_check_err(r != 0, err);
    if (r) return 0;
    size_t n;
    const cfg_key *k = config_schema(&n);
    if (c.n != n) abort();
    for (size_t i = 0; i < n; i++) {
        const char *v = config_get(&c, k[i].key);
        if (!v) abort();
        char *q = config_make_quote(v);
        if (!q) {
            fprintf(stderr, "fuzz: config value of '%s' cannot be a Make assignment\n", k[i].key);
            abort();
        }
        free(q);
        (void)config_int(&c, k[i].key);
        (void)config_float(&c, k[i].key);
        (void)config_bool(&c, k[i].key);
    }
    config_free(&c);
    return 0;
}
