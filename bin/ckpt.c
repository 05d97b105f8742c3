/* ckpt: list and import checkpoints in the formats users bring (PyTorch zip and legacy,
 * safetensors, our .npz) without Python and without running anything from the file.
 * Option parsing and output only; the readers are lib/import/ckpt_import.c, lib/io/pickle.c,
 * lib/io/zipread.c, lib/io/safetensors.c, and the DF-GAN mapping lib/import/dfgan_import.c. */
#include "core/atomic_file.h"
#include "import/ckpt_import.h"
#include "core/common.h"
#include "core/finite.h"
#include "core/toolopts.h"
#include "import/dfgan_import.h"
#include "import/hf_clip.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: ckpt list FILE\n"
    "       ckpt import [--hf-clip | --keep-names] [--allow-nonfinite] FILE -o OUT.npz\n"
    "       ckpt import --dfgan [--allow-nonfinite] state_epoch_N.pth -o DIR\n"
    "\n"
    "Reads PyTorch checkpoints (.pth/.pt, zip format of torch >= 1.6 and the legacy format before it),\n"
    ".safetensors files and .npz archives, told apart by their content (\"-\" reads stdin). Pickles\n"
    "are read by a small VM that calls nothing: only tensors, storages, OrderedDict and plain data\n"
    "are accepted, any other global (os.system, builtins.eval, a pickled nn.Module...) is refused.\n"
    "\n"
    "  list      one line per tensor: KEY DTYPE SHAPE, e.g. 'fc.weight float16 (256,6)' (the dtype as\n"
    "            stored in the file)\n"
    "  import    every tensor into one .npz under its dotted path: nested dicts joined with '.',\n"
    "            list items by index, a leading 'module.' of any key (DDP) dropped; float16,\n"
    "            bfloat16 and float64 become float32, integer and bool tensors keep their type\n"
    "            (int64 stays int64); views are materialised in C order. Non-tensor values\n"
    "            (epoch numbers, learning rates, strings, argparse.Namespace) are skipped.\n"
    "  --dfgan   the input is DF-GAN's training checkpoint {'model': {'netG', 'netD', 'netC'},\n"
    "            'optimizers': {'optimizer_G', 'optimizer_D'}, 'epoch'}: writes DIR/G.npz (NetG keys)\n"
    "            and DIR/D.npz ('netD.' and 'netC.' keys) with their Adam state (adam.step,\n"
    "            adam.exp_avg.<key>, adam.exp_avg_sq.<key>), ready for gen-step and disc-step\n"
    "            --ckpt; DIR is made if missing. A summary (epoch, Adam step, lr, betas) goes to\n"
    "            stderr: pass the same --lr/--beta1/--beta2 to resume exactly.\n"
    "  A NaN or Inf in a floating-point tensor (after the conversion to float32: a float64 beyond its\n"
    "  range is Inf) is refused, exit 3, naming the key and the index: every tool would refuse the\n"
    "  output at load.\n"
    "\n"
    "options:\n"
    "  -o, --out PATH   the output .npz (import) or folder (import --dfgan); written atomically\n"
    "  --hf-clip        require a Hugging Face CLIPModel and rename it (an error when the keys are not\n"
    "                   HF CLIP's); without it HF CLIP keys are renamed when recognised\n"
    "  --keep-names     import the tensors under the file's own names, HF CLIP's included\n"
    "  --allow-nonfinite  import NaN and Inf as they are: a faithful copy of a diverged checkpoint, to\n"
    "                   look at with npy-info (which counts them)\n"
    "  --device cpu     the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help       this help\n";

typedef struct {
    const char *cmd, *in, *out;
    int dfgan, hf_clip, keep_names, allow_nonfinite;
} options;

static void parse(options *o, int argc, char **argv) {
    enum { DFGAN = TOPT_FIRST, HF_CLIP, KEEP_NAMES, ALLOW_NONFINITE };
    static const struct option longopts[] = {
        {"out", 1, 0, 'o'}, {"dfgan", 0, 0, DFGAN}, {"hf-clip", 0, 0, HF_CLIP}, {"keep-names", 0, 0, KEEP_NAMES},
        {"allow-nonfinite", 0, 0, ALLOW_NONFINITE},
        {0, 0, 0, 0}};
    static const char *const cmds[] = {"list", "import"};
    memset(o, 0, sizeof *o);
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CPU);
    o->cmd = topt_command(&t, cmds, 2, "list or import");
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case 'o': o->out = optarg; break;
        case DFGAN: o->dfgan = 1; break;
        case HF_CLIP: o->hf_clip = 1; break;
        case KEEP_NAMES: o->keep_names = 1; break;
        case ALLOW_NONFINITE: o->allow_nonfinite = 1; break;
        }
    }
    if (optind >= argc) die_usage("%s expects an input FILE, found none", o->cmd);
    o->in = argv[optind++];
    if (optind < argc) die_usage("expected one input FILE, found also '%s'", argv[optind]);
    if (!strcmp(o->cmd, "list") && (o->out || o->dfgan))
        die_usage("list expects only FILE, found %s", o->out ? "-o" : "--dfgan");
    if (!strcmp(o->cmd, "list") && (o->hf_clip || o->keep_names || o->allow_nonfinite))
        die_usage("list expects only FILE, found %s",
                  o->hf_clip ? "--hf-clip" : o->keep_names ? "--keep-names" : "--allow-nonfinite");
    if (o->dfgan + o->hf_clip + o->keep_names > 1)
        die_usage("expected one of --dfgan, --hf-clip, --keep-names, found %s with %s", o->dfgan ? "--dfgan" : "--hf-clip",
                  o->keep_names ? "--keep-names" : "--hf-clip");
    if (!strcmp(o->cmd, "import") && !o->out)
        die_usage("import expects -o %s, found none", o->dfgan ? "DIR" : "OUT.npz");
}

/* Key for a line of `list`: control characters and backslashes escaped, so one tensor is one line. */
static void print_key(FILE *out, const char *k) {
    for (; *k; k++) {
        unsigned char ch = (unsigned char)*k;
        if (ch < 0x20 || ch == 0x7f || ch == '\\') fprintf(out, "\\x%02x", ch);
        else fputc(ch, out);
    }
}

/* Dies (exit 3) at the first NaN or Inf of the items about to be written, naming the input file and
 * the key: "state.pth: expected finite values, found NaN at (3,1) in 'fc.weight'". */
static void require_items_finite(const npz_item *it, int n, const char *in) {
    for (int i = 0; i < n; i++) {
        char key[256];
        require_finite(&it[i].arr, in, "in '%s'", show_key(key, sizeof key, it[i].key));
    }
}

int main(int argc, char **argv) {
    progname = "ckpt";
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work */
    if (o.dfgan) check_output_folder(o.out, "-o");
    else check_output_dir(o.out, "-o");
    char err[1024];
    cki_file f;
    if (cki_open(&f, o.in, !o.dfgan, err, sizeof err)) die_usage("%s", err);
    if (!strcmp(o.cmd, "list")) {
        for (int i = 0; i < f.n; i++) {
            char shape[32 * NPY_MAX_DIMS + 8];
            npy_format_shape(shape, sizeof shape, f.t[i].ndim, f.t[i].shape);
            print_key(stdout, f.t[i].key);
            printf(" %s %s\n", ck_dtype_name(f.t[i].dtype), shape);
        }
        cki_close(&f);
        close_stdout_or_die();
        return 0;
    }
    if (o.dfgan) {
        dfgan_ckpt d;
        if (dfgan_import(&f, &d, err, sizeof err)) die_usage("%s", err);
        if (!o.allow_nonfinite) {
            require_items_finite(d.G.items, d.G.n, o.in);
            require_items_finite(d.D.items, d.D.n, o.in);
        }
        dfgan_save(&d, o.out, o.allow_nonfinite);
        dfgan_ckpt_free(&d);
        cki_close(&f);
        return 0;
    }
    /* all of it in memory at once: at most 16x the file (plus 1 GiB), whatever the views say */
    unsigned __int128 total = 0;
    for (int i = 0; i < f.n; i++)
        total += (unsigned __int128)(uint64_t)cki_count(&f.t[i]) * npy_dtype_size(ck_dtype_out(f.t[i].dtype));
    if (total > (unsigned __int128)f.len * 16 + ((uint64_t)1 << 30))
        die_usage("%s: expected tensors totalling at most 16 times the file's %zu bytes, found views of %" PRIu64 " bytes",
                  o.in, f.len, (uint64_t)(total > UINT64_MAX ? UINT64_MAX : total));
    if (o.hf_clip || (!o.keep_names && hf_clip_detect(&f))) {
        if (!hf_clip_detect(&f))
            die_usage("--hf-clip expects Hugging Face CLIPModel keys (vision_model.*, text_model.*) in '%s', found none", o.in);
        hf_clip_out hc;
        if (hf_clip_convert(&f, &hc, err, sizeof err)) die_usage("%s", err);
        if (!o.allow_nonfinite) require_items_finite(hc.items, hc.n, o.in);
        if (npz_write(o.out, hc.items, hc.n, err, sizeof err)) die_runtime("%s", err);
        hf_clip_out_free(&hc);
        cki_close(&f);
        if (!strcmp(o.out, "-")) close_stdout_or_die();
        return 0;
    }
    npz_item *items = xcalloc((size_t)f.n, sizeof *items);
    int *borrowed = xcalloc((size_t)f.n, sizeof *borrowed);
    for (int i = 0; i < f.n; i++) {
        items[i].key = f.t[i].key;
        if (cki_tensor_read(&f.t[i], &items[i].arr, &borrowed[i], err, sizeof err)) die_usage("%s", err);
        if (!o.allow_nonfinite) require_items_finite(&items[i], 1, o.in);
    }
    if (npz_write(o.out, items, f.n, err, sizeof err)) die_runtime("%s", err);
    for (int i = 0; i < f.n; i++)
        if (!borrowed[i]) free(items[i].arr.data);
    free(items);
    free(borrowed);
    cki_close(&f);
    if (!strcmp(o.out, "-")) close_stdout_or_die();
    return 0;
}
