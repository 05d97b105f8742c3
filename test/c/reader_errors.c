/* reader_errors: the readers of outside files return their errors (lib/README.md, "Errors"):
 * on truncated, corrupt and ill-fitting inputs each returns -1 (or NULL) with a one-line message,
 * prints nothing and does not exit, and the process goes on to the next input. Run by
 * test/reader_errors.bats:
 *
 *   reader_errors FIXTURES SCRATCH
 *
 * FIXTURES is test/fixtures (ckpt/, dataset/, damsm_pickle/ are used), SCRATCH an empty folder
 * for the truncated copies. Prints "N checks passed (...)" and exits 0; a failed check is one line on
 * stderr naming it, and exit 1 at the end. Any exit on the way (a reader dying) shows as another
 * exit status with the tool's message on stderr. */
#include "core/common.h"
#include "image/image_load.h"
#include "import/dfgan_import.h"
#include "io/config.h"
#include "io/npz.h"
#include "io/pickle.h"
#include "models/netg.h"
#include "text/bpe.h"
#include "text/damsm_vocab.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *fx, *scratch;
static int checks, failed;
static int mutations_imported, mutations_refused;   /* legacy mutations that dfgan_import took, refused */

static void failf(const char *what, const char *fmt, const char *arg) {
    fprintf(stderr, "reader_errors: %s: ", what);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    failed++;
}

/* A reader's failure: rc -1, a non-empty one-line message, matching the glob "*want" when want
 * is not NULL ('[' and ']' in want taken literally). */
static void expect_error(const char *what, int rc, const char *err, const char *want) {
    checks++;
    if (rc != -1) { failf(what, "expected -1, found another return%s", ""); return; }
    if (!err[0] || strchr(err, '\n')) { failf(what, "expected a one-line message, found '%s'", err); return; }
    if (want) {
        char pat[1024];
        size_t k = 0;
        pat[k++] = '*';
        for (const char *w = want; *w && k + 3 < sizeof pat; w++) {
            if (*w == '[' || *w == ']') pat[k++] = '\\';
            pat[k++] = *w;
        }
        pat[k] = 0;
        if (fnmatch(pat, err, 0) != 0) failf(what, "expected a message ending in the pattern, found '%s'", err);
    }
}

static void expect(const char *what, int ok, const char *err) {
    checks++;
    if (!ok) failf(what, "expected success, found '%s'", err);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) die_usage("expected a readable fixture, found '%s'", path);
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = xmalloc(cap);
    for (size_t k; (k = fread(b + n, 1, cap - n, f)) > 0;)
        if ((n += k) == cap) b = xrealloc(b, cap *= 2);
    fclose(f);
    *len = n;
    return b;
}

/* The first n bytes of buf as SCRATCH/name; returns the path (static). */
static const char *write_cut(const char *name, const unsigned char *buf, size_t n) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) die_runtime("expected to write '%s'", path);
    return path;
}

/* ---- checkpoints: dfgan_import, cki_open ---- */

static void dfgan_cases(void) {
    char path[1024], line[1024], err[1024];
    snprintf(path, sizeof path, "%s/ckpt/bad/cases.txt", fx);
    FILE *f = fopen(path, "r");
    if (!f) die_usage("expected a readable fixture, found '%s'", path);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *mode = strchr(line, '|'), *want = mode ? strchr(mode + 1, '|') : NULL;
        if (!want) continue;
        *mode++ = 0;
        *want++ = 0;
        if (strcmp(mode, "dfgan")) continue;
        char file[1100];
        snprintf(file, sizeof file, "%s/ckpt/bad/%s", fx, line);
        cki_file ck;
        dfgan_ckpt c;
        int rc = cki_open(&ck, file, 0, err, sizeof err);
        expect(line, rc == 0, err);
        if (rc) continue;
        rc = dfgan_import(&ck, &c, err, sizeof err);
        expect_error(line, rc, err, want);
        checks++;
        if (c.G.n || c.D.n || c.G.items || c.D.items) failf(line, "expected an empty dfgan_ckpt after an error%s", "");
        cki_close(&ck);
        n++;
    }
    fclose(f);
    checks++;
    if (n < 6) failf("cases.txt", "expected at least 6 dfgan cases, found %s", n ? "fewer" : "none");
}

static void dfgan_good_and_wrong(void) {
    char path[1024], err[1024];
    cki_file ck;
    dfgan_ckpt c;
    snprintf(path, sizeof path, "%s/ckpt/dfgan_state_epoch_3.pth", fx);
    int rc = cki_open(&ck, path, 0, err, sizeof err);
    expect("dfgan_state_epoch_3.pth opens", rc == 0, err);
    if (!rc) {
        rc = dfgan_import(&ck, &c, err, sizeof err);
        expect("dfgan_state_epoch_3.pth imports", rc == 0, err);
        checks++;
        if (!rc && (c.imsize != 32 || c.nf != 1 || c.adam_g.step != 2 || !c.have_epoch || c.epoch != 3 ||
                    strcmp(c.G.items[c.G.n - 1].key, "adam.step")))
            failf("dfgan_state_epoch_3.pth", "expected imsize 32 nf 1, Adam step 2, epoch 3, found otherwise%s", "");
        if (!rc) dfgan_ckpt_free(&c);
        cki_close(&ck);
    }
    /* a plain state dict, and a safetensors file: opened fine, refused by dfgan_import */
    const char *other[2][2] = {{"sd_zip.pt", "expected a DF-GAN checkpoint with a dict checkpoint['model'], found none"},
                               {"st.safetensors", "expected a PyTorch checkpoint for --dfgan, found a safetensors file"}};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/ckpt/%s", fx, other[i][0]);
        if (cki_open(&ck, path, 0, err, sizeof err)) { expect(other[i][0], 0, err); continue; }
        expect_error(other[i][0], dfgan_import(&ck, &c, err, sizeof err), err, other[i][1]);
        cki_close(&ck);
    }
}

/* Cuts of a checkpoint: cki_open or dfgan_import refuses each (a cut file never imports). */
static void dfgan_cuts(const char *name) {
    char path[1024], err[1024], what[1200];
    snprintf(path, sizeof path, "%s/ckpt/%s", fx, name);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    size_t cuts[] = {0, 1, 9, 64, 300, len / 4, len / 2, len - 200, len - 22, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        const char *cut = write_cut("cut.pth", buf, cuts[i]);
        snprintf(what, sizeof what, "%s cut at %zu", name, cuts[i]);
        cki_file ck;
        dfgan_ckpt c;
        int rc = cki_open(&ck, cut, 0, err, sizeof err);
        if (rc == 0) {
            rc = dfgan_import(&ck, &c, err, sizeof err);
            cki_close(&ck);
        }
        expect_error(what, rc, err, NULL);
    }
    free(buf);
}

/* Mutations of the legacy checkpoint (no CRC: changed bytes reach the pickle VM and the checks
 * of dfgan_import): each ends in 0 or -1 with one line, and some reach dfgan_import's refusals. */
static void dfgan_mutations(void) {
    char path[1024], err[1024], what[128];
    snprintf(path, sizeof path, "%s/ckpt/dfgan_ddp_legacy.pth", fx);
    size_t len;
    unsigned char *good = slurp(path, &len), *buf = xmalloc(len);
    /* the pickles (object and storage keys) come first: mutate there */
    size_t span = len < 24000 ? len : 24000;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int imported = 0, refused_by_import = 0;
    for (int t = 0; t < 600; t++) {
        memcpy(buf, good, len);
        for (int k = 0; k < 1 + t % 3; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[(s >> 33) % span] = (unsigned char)(s >> 17);
        }
        cki_file ck;
        dfgan_ckpt c;
        err[0] = 0;
        snprintf(what, sizeof what, "legacy mutation %d", t);
        if (cki_open_mem(&ck, buf, len, "mutated", 0, err, sizeof err) != 0) { expect_error(what, -1, err, NULL); continue; }
        int rc = dfgan_import(&ck, &c, err, sizeof err);
        if (rc == 0) { imported++; dfgan_ckpt_free(&c); }
        else { refused_by_import++; expect_error(what, rc, err, NULL); }
        cki_close(&ck);
    }
    checks++;
    if (refused_by_import < 10) failf("legacy mutations", "expected at least 10 refused by dfgan_import, found %s", "fewer");
    mutations_imported = imported;
    mutations_refused = refused_by_import;
    free(good);
    free(buf);
}

/* ---- npz, zip ---- */

static void npz_cases(void) {
    char path[1024], err[1024], what[1200];
    snprintf(path, sizeof path, "%s/ckpt/dfgan_G.npz", fx);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    size_t cuts[] = {0, 1, 22, 100, len / 2, len - 22, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        const char *cut = write_cut("cut.npz", buf, cuts[i]);
        snprintf(what, sizeof what, "npz_read of dfgan_G.npz cut at %zu", cuts[i]);
        npz z;
        expect_error(what, npz_read(cut, &z, err, sizeof err), err, NULL);
        checks++;
        if (!strstr(err, cut)) failf(what, "expected the message to name the path, found '%s'", err);
        npz_mapped m;
        snprintf(what, sizeof what, "npz_read_mapped of dfgan_G.npz cut at %zu", cuts[i]);
        expect_error(what, npz_read_mapped(cut, &m, 64, err, sizeof err), err, NULL);
    }
    /* a changed byte in the last member's data: its CRC-32 no longer matches */
    unsigned char *bad = xmalloc(len);
    memcpy(bad, buf, len);
    npz z;
    expect("npz_read_mem of dfgan_G.npz", npz_read_mem(buf, len, "G", &z, err, sizeof err) == 0, err);
    npz_free(&z);
    bad[len / 2] ^= 0x55;
    expect_error("npz_read_mem with a changed byte", npz_read_mem(bad, len, "G", &z, err, sizeof err), err, "*CRC*");
    expect_error("npz_read of a missing file", npz_read("/nonexistent/x.npz", &z, err, sizeof err), err,
                 "expected a readable file, found '/nonexistent/x.npz': No such file or directory");
    zip_archive za;
    expect_error("zip_open_mem of text", zip_open_mem(&za, "not a zip at all", 16, "text", err, sizeof err), err, NULL);
    /* a state dict without most of NetG's keys: the returning netg_infer_err */
    netg g;
    memset(&g, 0, sizeof g);
    expect("npz_read_mem of dfgan_G.npz again", npz_read_mem(buf, len, "G", &z, err, sizeof err) == 0, err);
    int n = z.n;
    z.n = 1;
    expect_error("netg_infer_err on the first key alone", netg_infer_err(&g, &z, "G", err, sizeof err), err,
                 "G: expected a NetG state_dict with key 'to_rgb.1.weight', found none");
    z.n = n;
    npz_free(&z);
    netg_free(&g);
    free(bad);
    free(buf);
}

/* ---- pickle, config, images, tokenizer files ---- */

static void other_readers(void) {
    char path[1024], err[1024];
    size_t len;
    /* pickle: a truncated caption pickle, straight and through damsm_vocab_load */
    snprintf(path, sizeof path, "%s/damsm_pickle/captions_p2.pickle", fx);
    unsigned char *buf = slurp(path, &len);
    pk_ctx ctx = {0};
    pk_obj *o;
    size_t used;
    expect_error("pk_load of a cut pickle", pk_load(&ctx, buf, len / 2, "cut", &used, &o, err, sizeof err), err, NULL);
    pk_free(&ctx);
    damsm_vocab v;
    expect_error("damsm_vocab_load of a cut pickle",
                 damsm_vocab_load(&v, write_cut("cut.pickle", buf, len / 2), err, sizeof err), err, NULL);
    free(buf);
    expect_error("damsm_vocab_load of a text without <end>",
                 damsm_vocab_load(&v, write_cut("vocab.txt", (const unsigned char *)"bird\n", 5), err, sizeof err), err,
                 "expected '<end>' on line 1 of vocabulary '*vocab.txt', found 'bird'");
    /* CLIP's merges: too short */
    clip_bpe *t = clip_bpe_load(write_cut("merges.txt", (const unsigned char *)"#version\na b\n", 13), err, sizeof err);
    expect_error("clip_bpe_load of two lines", t ? 0 : -1, err, "expected at least 48894 merge lines*");
    /* the YAML config: an unknown key, and a file that is no mapping */
    config c;
    const char *yml = "imsize: 256\nimsise: 256\n";
    expect_error("config_load with an unknown key",
                 config_load(&c, write_cut("bad.yml", (const unsigned char *)yml, strlen(yml)), err, sizeof err), err, NULL);
    expect_error("config_load of a missing file", config_load(&c, "/nonexistent/c.yml", err, sizeof err), err, NULL);
    /* images: a cut JPEG, a PNG signature with nothing after it, a file of neither kind */
    snprintf(path, sizeof path, "%s/dataset/coco/images/train2014/COCO_train2014_000000000001.jpg", fx);
    buf = slurp(path, &len);
    unsigned char *rgb = NULL;
    int H, W;
    const char *cut = write_cut("cut.jpg", buf, len / 2);
    expect_error("image_load_rgb8 of a cut JPEG", image_load_rgb8(cut, &rgb, &H, &W, err, sizeof err), err,
                 "expected a valid JPEG file, found an error: *");
    cut = write_cut("cut2.jpg", buf, 100);
    expect_error("image_load_size of a JPEG cut in its header", image_load_size(cut, &H, &W, err, sizeof err), err, NULL);
    free(buf);
    static const unsigned char png[12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
    expect_error("image_load_rgb8 of a bare PNG signature",
                 image_load_rgb8(write_cut("bare.png", png, sizeof png), &rgb, &H, &W, err, sizeof err), err,
                 "expected a valid PNG file, found an error: *");
    expect_error("image_load_rgb8 of text",
                 image_load_rgb8(write_cut("text.png", (const unsigned char *)"hello", 5), &rgb, &H, &W, err, sizeof err),
                 err, "expected a PNG or JPEG file, found neither signature");
}

int main(int argc, char **argv) {
    progname = "reader_errors";
    if (argc != 3) die_usage("expected FIXTURES SCRATCH, found %d arguments", argc - 1);
    fx = argv[1];
    scratch = argv[2];
    dfgan_cases();
    dfgan_good_and_wrong();
    dfgan_cuts("dfgan_state_epoch_3.pth");
    dfgan_cuts("dfgan_ddp_legacy.pth");
    dfgan_mutations();
    npz_cases();
    other_readers();
    printf("%d checks passed (of 600 legacy mutations %d imported, %d refused by dfgan_import, the rest by cki_open)\n",
           checks - failed, mutations_imported, mutations_refused);
    close_stdout_or_die();
    return failed ? 1 : 0;
}
