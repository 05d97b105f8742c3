#!/usr/bin/env bats
# test/dataset.bats: the data tools of issue 6.
#   make-dataset  DF-GAN's CUB layout and its consistency (Python's own pickle, a JPEG header
#                 reader, plain Python), captions true to the class, determinism by seed;
#   import-cub    the bbox crop against a numpy transcription of DF-GAN's get_imgs, the resize
#                 against a numpy transcription of Pillow's ImagingResample (bilinear), the
#                 captions and names in pickle order; against PIL itself when it is importable;
#                 the exact cache (--shapes) byte for byte against Pillow + torchvision, from the
#                 committed fixtures of test/reference/cub_ref.py (CUB and COCO layouts) and live
#                 on make-dataset's images where PIL is importable; the square cache its centre;
#   batches       captions from the image's own K, every image at most once per epoch,
#                 drop_last, shuffles per epoch, same (seed, epoch) same bytes, crops and flips
#                 within bounds and equal to the cache's pixels, [-1,1] normalisation; on the
#                 exact cache crops over each image's own positions; --no-augment as
#                 torchvision's CenterCrop, never flipped;
# and the manners: bad inputs (truncated or corrupt caches, shapes and JPEGs, offsets out of
# range, images smaller than --imsize) exit 2 with one line, nothing written.

load helpers

setup_file() {
  DS="$BATS_FILE_TMPDIR/ds"
  "$BATS_TEST_DIRNAME/../bin/make-dataset" --out "$DS" --images 96 --seed 3 2>/dev/null
  FX="$BATS_TEST_DIRNAME/fixtures/dataset"
  export DS FX
}

setup() {
  common_setup
  cd "$T"
}

# The numpy transcriptions shared by the import tests.
PYLIB='
import pickle
def jpeg_size(path):
    b = open(path, "rb").read()
    assert b[:2] == b"\xff\xd8", path
    i = 2
    while i < len(b):
        assert b[i] == 0xFF, (path, i)
        m = b[i + 1]
        L = b[i + 2] * 256 + b[i + 3]
        if m in (0xC0, 0xC1, 0xC2, 0xC3):
            return b[i + 7] * 256 + b[i + 8], b[i + 5] * 256 + b[i + 6]   # (width, height)
        i += 2 + L
    raise AssertionError("no SOF in " + path)

def load_bbox(root):   # DF-GAN load_bbox: pandas then .astype(int), by line
    names = [l.split()[1][:-4] for l in open(root + "/CUB_200_2011/images.txt")]
    rows = [[float(v) for v in l.split()] for l in open(root + "/CUB_200_2011/bounding_boxes.txt")]
    return {k: [int(v) for v in r[1:]] for k, r in zip(names, rows)}

def dfgan_box(bbox, width, height):   # DF-GAN get_imgs
    r = int(np.maximum(bbox[2], bbox[3]) * 0.75)
    center_x = int((2 * bbox[0] + bbox[2]) / 2)
    center_y = int((2 * bbox[1] + bbox[3]) / 2)
    y1 = np.maximum(0, center_y - r); y2 = np.minimum(height, center_y + r)
    x1 = np.maximum(0, center_x - r); x2 = np.minimum(width, center_x + r)
    return [int(x1), int(y1), int(x2), int(y2)]

def pil_coeffs(insize, outsize):   # Pillow Resample.c precompute_coeffs + normalize_coeffs_8bpc
    scale = insize / outsize
    fs = max(scale, 1.0)
    support = 1.0 * fs
    M = np.zeros((outsize, insize), np.int64)
    for xx in range(outsize):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), insize) - xmin
        w = [max(0.0, 1.0 - abs((x + xmin - center + 0.5) / fs)) for x in range(xmax)]
        ww = sum(w)
        if ww != 0: w = [v / ww for v in w]
        for x, v in enumerate(w):
            M[xx, xmin + x] = int(0.5 + v * (1 << 22)) if v >= 0 else int(-0.5 + v * (1 << 22))
    return M

def pil_resize(img, ow, oh):   # img (h,w,3) uint8; horizontal pass first, 8-bit in between
    h, w, _ = img.shape
    x = img.astype(np.int64)
    if ow != w: x = np.clip((np.einsum("ow,hwc->hoc", pil_coeffs(w, ow), x) + (1 << 21)) >> 22, 0, 255)
    if oh != h: x = np.clip((np.einsum("oh,hwc->owc", pil_coeffs(h, oh), x) + (1 << 21)) >> 22, 0, 255)
    return x.astype(np.uint8)

def tv_resize_dims(w, h, size):   # torchvision Resize(int) on a PIL image
    if (w <= h and w == size) or (h <= w and h == size): return w, h
    if w < h: return size, int(size * h / w)
    return int(size * w / h), size

def arrays(path):   # an .npy stream, array by array
    f = open(path, "rb"); end = os.fstat(f.fileno()).st_size; out = []
    while f.tell() < end: out.append(np.lib.format.read_array(f))
    return out
'

@test "make-dataset --help prints the usage on stdout and exits 0" {
  run --separate-stderr make-dataset --help
  assert_ok
  [[ "$output" == usage:* ]]
}

@test "make-dataset writes DF-GAN's CUB layout, consistent throughout" {
  py "$PYLIB"'
root = sys.argv[1]
ids = [l.split() for l in open(root + "/CUB_200_2011/images.txt")]
assert [int(i) for i, _ in ids] == list(range(1, 97)), "ids 1..N in order"
boxes = [l.split() for l in open(root + "/CUB_200_2011/bounding_boxes.txt")]
assert len(boxes) == 96 and [b[0] for b in boxes] == [i for i, _ in ids]
train = pickle.load(open(root + "/train/filenames.pickle", "rb"))
test = pickle.load(open(root + "/test/filenames.pickle", "rb"))
assert type(train) is list and type(test) is list
assert all(type(s) is str for s in train + test)
keys = [p[:-4] for _, p in ids]
assert sorted(train + test) == sorted(keys) and len(set(keys)) == 96
ctrain = {k.split("/")[0] for k in train}; ctest = {k.split("/")[0] for k in test}
assert not ctrain & ctest, "classes disjoint"
assert len(ctrain) == 36 and len(ctest) == 12, (len(ctrain), len(ctest))
import re
cls = sorted(ctrain | ctest)
assert all(re.fullmatch(r"\d{3}\.[A-Z][a-z]+_[A-Z][a-z]+", c) for c in cls), cls
assert [int(c[:3]) for c in cls] == list(range(1, 49))
# every shape and colour of a test class is also seen in training
for c in ctest:
    col, shp = c[4:].split("_")
    assert any(col in t for t in ctrain) and any(shp in t for t in ctrain), c
sizes = set()
for (i, p), b in zip(ids, boxes):
    assert p.endswith(".jpg") and p.split("/")[1].startswith(p.split("/")[0][4:] + "_")
    w, h = jpeg_size(root + "/CUB_200_2011/images/" + p)
    assert 96 <= w <= 128 and 96 <= h <= 128, (p, w, h)
    sizes.add((w, h))
    assert all(re.fullmatch(r"\d+\.0", v) for v in b[1:]), b
    x, y, bw, bh = [float(v) for v in b[1:]]
    assert x >= 0 and y >= 0 and bw >= 1 and bh >= 1 and x + bw <= w and y + bh <= h, (p, b, w, h)
    caps = open(root + "/text/" + p[:-4] + ".txt").read().split("\n")
    assert len(caps) == 11 and caps[-1] == "" and all(caps[:10]), caps
    col = p.split("/")[0][4:].split("_")[0].lower()
    assert all(col in c for c in caps[:10]), (p, caps)
    assert len(set(caps[:10])) >= 8, caps
    assert not any(" a a" in c or " a o" in c or " a e" in c for c in caps[:10]), caps
assert len(sizes) > 20, "varied image sizes"
' "$DS"
  [ -z "$(find "$DS/.." -maxdepth 1 -name '.*.tmp.*')" ]
}

@test "make-dataset: 2,000 images by default, pickles over 1,000 names load in Python" {
  run --separate-stderr make-dataset --out big
  assert_ok
  py '
import pickle
tr = pickle.load(open("big/train/filenames.pickle", "rb")); te = pickle.load(open("big/test/filenames.pickle", "rb"))
assert len(tr) + len(te) == 2000 and len(tr) == 1500, (len(tr), len(te))
assert len(tr) == len(set(tr)) and all(type(s) is str for s in tr)
assert sum(1 for _ in open("big/CUB_200_2011/images.txt")) == 2000
'
}

@test "make-dataset: the same seed gives the same bytes, another seed other images" {
  make-dataset --out a --images 60 --seed 3 2>/dev/null
  make-dataset --out b --images 60 --seed 3 2>/dev/null
  make-dataset --out c --images 60 --seed 4 2>/dev/null
  diff -r a b
  ! diff -q a/CUB_200_2011/bounding_boxes.txt c/CUB_200_2011/bounding_boxes.txt
  ! cmp -s a/CUB_200_2011/images/001.Red_Circle/Red_Circle_0001.jpg c/CUB_200_2011/images/001.Red_Circle/Red_Circle_0001.jpg
}

@test "make-dataset: bad usage exits 2 with one line and writes nothing" {
  run --separate-stderr make-dataset --images 10 --out x
  assert_fails 2 "make-dataset: --images expects an integer in [48, 1000000], found '10'"
  [ ! -e x ]
  run --separate-stderr make-dataset
  assert_fails 2 "make-dataset: expected --out DIR, found none"
  mkdir full; touch full/f
  run --separate-stderr make-dataset --out full --images 48
  assert_fails 2 "make-dataset: expected --out to be a new or empty folder, found 'full' existing"
  [ "$(ls -A full)" = f ]
  run --separate-stderr make-dataset --out nodir/x --images 48
  assert_fails 2 "make-dataset: expected a writable folder for 'nodir/x', found 'nodir': *"
  run --separate-stderr make-dataset --out y --bogus
  assert_fails 2 "make-dataset: expected a known option, found '--bogus' (see --help)"
  [ ! -e x ] && [ ! -e y ] && [ ! -e nodir ]
  [ -z "$(find . -name ".*.tmp.*")" ]
}

@test "make-dataset: an existing empty folder is filled" {
  mkdir e
  make-dataset --out e --images 48 2>/dev/null
  [ -f e/train/filenames.pickle ]
}

@test "import-cub crops exactly as DF-GAN's get_imgs and keeps captions and names in pickle order" {
  import-cub --root "$DS" --split train --imsize 32 --images c.npy --captions c.txt \
    --filenames f.txt --boxes b.npy --crops cr.npy 2>/dev/null
  py "$PYLIB"'
root = sys.argv[1]
names = pickle.load(open(root + "/train/filenames.pickle", "rb"))
bb = load_bbox(root)
boxes = np.load("b.npy"); crops = arrays("cr.npy"); cache = np.load("c.npy", mmap_mode="r")
assert boxes.dtype == np.int32 and boxes.shape == (len(names), 6)
assert cache.dtype == np.uint8 and cache.shape == (len(names), 3, 38, 38)
assert open("f.txt").read().split("\n")[:-1] == names
caps = open("c.txt").read().split("\n")[:-1]
assert len(caps) == 10 * len(names)
clipped = 0
for i, k in enumerate(names):
    w, h = jpeg_size(root + "/CUB_200_2011/images/" + k + ".jpg")
    want = dfgan_box(bb[k], w, h)
    assert boxes[i].tolist() == want + [w, h], (k, boxes[i], want)
    clipped += want[2] - want[0] != want[3] - want[1]
    assert crops[i].shape == (3, want[3] - want[1], want[2] - want[0]), (crops[i].shape, want)
    assert caps[10 * i:10 * i + 10] == open(root + "/text/" + k + ".txt").read().split("\n")[:10]
assert 0 < clipped < len(names), "some boxes meet the border, some do not"
' "$DS"
}

@test "import-cub resizes as PIL's bilinear resample (numpy transcription of Pillow's algorithm)" {
  import-cub --root "$DS" --split test --imsize 64 --images c.npy --captions c.txt --crops cr.npy 2>/dev/null
  py "$PYLIB"'
crops = arrays("cr.npy"); cache = np.load("c.npy"); R = 76
assert cache.shape == (len(crops), 3, R, R)
worst = 0
for i, c in enumerate(crops):
    img = c.transpose(1, 2, 0)
    ow, oh = tv_resize_dims(img.shape[1], img.shape[0], R)
    r = pil_resize(img, ow, oh)
    ox, oy = int(round((ow - R) / 2.0)), int(round((oh - R) / 2.0))   # torchvision CenterCrop
    ref = r[oy:oy + R, ox:ox + R].transpose(2, 0, 1)
    worst = max(worst, int(np.abs(ref.astype(int) - cache[i]).max()))
print("max difference", worst)
assert worst <= 1, worst
'
}

@test "import-cub matches PIL itself, decoding included (skipped without PIL)" {
  "$PYTHON" -c 'import PIL' 2>/dev/null || skip "PIL is not importable"
  import-cub --root "$DS" --split train --imsize 24 --images c.npy --captions c.txt --limit 30 2>/dev/null
  py "$PYLIB"'
from PIL import Image
root = sys.argv[1]; R = 28
names = pickle.load(open(root + "/train/filenames.pickle", "rb"))[:30]
bb = load_bbox(root); cache = np.load("c.npy")
for i, k in enumerate(names):
    img = Image.open(root + "/CUB_200_2011/images/" + k + ".jpg").convert("RGB")
    img = img.crop(dfgan_box(bb[k], *img.size))
    ow, oh = tv_resize_dims(*img.size, R)
    img = np.asarray(img.resize((ow, oh), Image.BILINEAR))
    ox, oy = int(round((ow - R) / 2.0)), int(round((oh - R) / 2.0))
    d = np.abs(img[oy:oy + R, ox:ox + R].transpose(2, 0, 1).astype(int) - cache[i]).max()
    assert d == 0, (k, d)
' "$DS"
}

@test "import-cub --limit N --spread: N names spread evenly over the list (floor(i*total/N)), each as in the whole import" {
  import-cub --root "$DS" --split test --imsize 32 --images all.npy --shapes all_s.npy --captions all.txt --filenames all_f.txt 2>/dev/null
  import-cub --root "$DS" --split test --imsize 32 --images sp.npy --shapes sp_s.npy --captions sp.txt --filenames sp_f.txt --limit 7 --spread 2>/dev/null
  py '
names = open("all_f.txt").read().splitlines(); caps = open("all.txt").read().splitlines()
n = len(names); pick = [i * n // 7 for i in range(7)]
assert n > 14 and pick[-1] > n // 2, pick
assert open("sp_f.txt").read().splitlines() == [names[i] for i in pick]
assert open("sp.txt").read().splitlines() == [c for i in pick for c in caps[i * 10:i * 10 + 10]]
a, sa, b, sb = np.load("all.npy"), np.load("all_s.npy"), np.load("sp.npy"), np.load("sp_s.npy")
for k, i in enumerate(pick):
    assert (sa[i, 1:] == sb[k, 1:]).all()
    m = 3 * sa[i, 1] * sa[i, 2]
    assert np.array_equal(a[sa[i, 0]:sa[i, 0] + m], b[sb[k, 0]:sb[k, 0] + m]), k
assert len(set(x.split("/")[0] for x in open("sp_f.txt").read().splitlines())) > 1
'
  run --separate-stderr import-cub --root "$DS" --split test --imsize 32 --images c.npy --captions c.txt --spread
  assert_fails 2 "import-cub: --spread expects --limit N, found no --limit"
}

@test "import-cub: bad inputs exit 2 with one line and write nothing" {
  run --separate-stderr import-cub --root "$DS" --split val --imsize 32 --images c.npy --captions c.txt
  assert_fails 2 "import-cub: expected --split train or test, found 'val'"
  run --separate-stderr import-cub --root nowhere --split train --imsize 32 --images c.npy --captions c.txt
  assert_fails 2 "import-cub: expected a readable file, found 'nowhere/train/filenames.pickle': No such file or directory"
  run --separate-stderr import-cub --root "$DS" --split train --images c.npy --captions c.txt
  assert_fails 2 "import-cub: expected --root, --split, --imsize, --images and --captions, found --imsize missing"
  # a pickle that is a dict, and one naming a path outside the dataset
  cp -r "$DS" d1
  "$PYTHON" -c 'import pickle; pickle.dump({"a": 1}, open("d1/train/filenames.pickle", "wb"), protocol=2)'
  run --separate-stderr import-cub --root d1 --split train --imsize 32 --images c.npy --captions c.txt
  assert_fails 2 "import-cub: expected a list of names in 'd1/train/filenames.pickle', found a dict"
  "$PYTHON" -c 'import pickle; pickle.dump(["../../etc/passwd"], open("d1/train/filenames.pickle", "wb"), protocol=2)'
  run --separate-stderr import-cub --root d1 --split train --imsize 32 --images c.npy --captions c.txt
  assert_fails 2 "import-cub: expected a relative name inside the dataset in *, found '../../etc/passwd' at index 0"
  # too few captions for one image: the outputs begun are removed
  cp -r "$DS" d2
  k=$(py 'import pickle; print(pickle.load(open("d2/test/filenames.pickle", "rb"))[3])')
  printf 'only one caption\n\n' > "d2/text/$k.txt"
  run --separate-stderr import-cub --root d2 --split test --imsize 32 --images c.npy --captions c.txt
  assert_fails 2 "import-cub: expected 10 captions in 'd2/text/$k.txt', found 1"
  [ ! -e c.npy ] && [ ! -e c.txt ]
  assert_no_temp .
}

@test "import-cub --coco reads images/train2014 and text/ with no box" {
  mkdir -p co/images/train2014 co/text co/train
  py '
import pickle, shutil
root = sys.argv[1]
names = pickle.load(open(root + "/train/filenames.pickle", "rb"))[:5]
new = []
for i, k in enumerate(names):
    n = "COCO_train2014_%012d" % i
    shutil.copy(root + "/CUB_200_2011/images/" + k + ".jpg", "co/images/train2014/" + n + ".jpg")
    shutil.copy(root + "/text/" + k + ".txt", "co/text/" + n + ".txt")
    new.append(n)
pickle.dump(new, open("co/train/filenames.pickle", "wb"), protocol=2)
' "$DS"
  import-cub --coco --root co --split train --imsize 32 --images c.npy --captions c.txt --boxes b.npy 2>/dev/null
  py '
b = np.load("b.npy"); assert (b[:, 0] == 0).all() and (b[:, 1] == 0).all() and (b[:, 2] == b[:, 4]).all() and (b[:, 3] == b[:, 5]).all()
assert np.load("c.npy").shape == (5, 3, 38, 38)
assert sum(1 for _ in open("c.txt")) == 25
'
}

# batches over a cache of the train split (72 images) and K=10 float32 rows per image.
make_caches() {
  import-cub --root "$DS" --split train --imsize 32 --images c.npy --captions c.txt 2>/dev/null
  py 'rng = np.random.default_rng(0); np.save("e.npy", rng.standard_normal((720, 6)).astype(np.float32)); np.save("t.npy", np.arange(720 * 4, dtype=np.int32).reshape(720, 4))'
}

@test "batches: own captions, each image once per epoch, drop_last, crops and flips of the cache's pixels" {
  make_caches
  batches --cache c.npy --emb e.npy --imsize 32 --batch 10 --epoch 1 --seed 5 --images i.npy --cond k.npy --index x.npy
  py "$PYLIB"'
cache = np.load("c.npy"); emb = np.load("e.npy")
ims, conds, idxs = arrays("i.npy"), arrays("k.npy"), arrays("x.npy")
assert len(ims) == len(conds) == len(idxs) == 7, "72 images, batch 10, drop_last: 7 batches"
x = np.concatenate(idxs)
assert x.dtype == np.int32 and x.shape == (70, 5)
assert len(set(x[:, 0].tolist())) == 70 and x[:, 0].min() >= 0 and x[:, 0].max() < 72
assert (x[:, 1] // 10 == x[:, 0]).all(), "every caption is one of its own image"
assert len(set((x[:, 1] % 10).tolist())) == 10, "all ten caption slots are drawn"
assert x[:, 2].min() >= 0 and x[:, 2].max() <= 6 and x[:, 3].min() >= 0 and x[:, 3].max() <= 6
assert set(x[:, 4].tolist()) == {0, 1}
assert x[:, 0].tolist() != sorted(x[:, 0].tolist()), "shuffled"
im = np.concatenate(ims); cd = np.concatenate(conds)
assert im.dtype == np.float32 and im.shape == (70, 3, 32, 32) and cd.dtype == np.float32 and cd.shape == (70, 6)
assert (cd == emb[x[:, 1]]).all()
for j, (n, row, y, xx, f) in enumerate(x):
    p = cache[n][:, y:y + 32, xx:xx + 32]
    if f: p = p[:, :, ::-1]
    want = (p.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    assert (im[j] == want).all(), j
assert im.min() >= -1 and im.max() <= 1
'
}

@test "batches: the same seed and epoch give the same bytes; epochs and seeds shuffle differently" {
  make_caches
  run_b() { batches --cache c.npy --emb t.npy --imsize 30 --batch 8 --epoch $1 --seed $2 --images "i$3.npy" --cond "k$3.npy" --index "x$3.npy"; }
  run_b 1 0 a; run_b 1 0 b; run_b 2 0 c; run_b 1 9 d
  cmp ia.npy ib.npy && cmp ka.npy kb.npy && cmp xa.npy xb.npy
  py "$PYLIB"'
a, b, c = (np.concatenate(arrays("x%s.npy" % n)) for n in "acd")
assert (a[:, 0] != b[:, 0]).any() and (a[:, 0] != c[:, 0]).any()
k = np.concatenate(arrays("ka.npy")); t = np.load("t.npy")
assert k.dtype == np.int32 and k.shape == (72, 4) and (k == t[a[:, 1]]).all(), "int32 token ids pass through"
assert a[:, 2].max() <= 8 and a[:, 3].max() <= 8
'
  batches --cache c.npy --emb e.npy --imsize 32 --batch 4 --epoch 0 --max-batches 3 --images - --cond k3.npy > i3.npy
  py "$PYLIB"'
assert len(arrays("k3.npy")) == 3 and len(arrays("i3.npy")) == 3'
}

@test "batches: bad inputs exit 2 with one line and write nothing" {
  make_caches
  py 'np.save("f.npy", np.zeros((4, 3, 38, 38), np.float32)); np.save("e5.npy", np.zeros((725, 6), np.float32))'
  run --separate-stderr batches --cache f.npy --emb e.npy --imsize 32 --batch 8 --epoch 1 --images i.npy --cond k.npy
  assert_fails 2 "batches: --cache: expected uint8 (N,3,R,R), found float32 (4,3,38,38)"
  run --separate-stderr batches --cache c.npy --emb e5.npy --imsize 32 --batch 8 --epoch 1 --images i.npy --cond k.npy
  assert_fails 2 "batches: --emb: expected a multiple of N rows for 72 images, found 725"
  run --separate-stderr batches --cache c.npy --emb e.npy --imsize 40 --batch 8 --epoch 1 --images i.npy --cond k.npy
  assert_fails 2 "batches: --imsize: expected at most the cache's side 38, found 40"
  run --separate-stderr batches --cache c.npy --emb e.npy --imsize 32 --batch 80 --epoch 1 --images i.npy --cond k.npy
  assert_fails 2 "batches: --batch: expected at most the 72 images, found 80"
  run --separate-stderr batches --cache c.npy --emb e.npy --imsize 32 --batch 8 --images i.npy --cond k.npy
  assert_fails 2 "batches: expected --cache, --emb, --imsize, --batch, --epoch, --images and --cond, found --epoch missing"
  head -c 3000 c.npy > short.npy
  run --separate-stderr batches --cache short.npy --emb e.npy --imsize 32 --batch 8 --epoch 1 --images i.npy --cond k.npy
  assert_fails 2 "batches: --cache: expected 311904 bytes of array data in 'short.npy', found * (truncated file)"
  run --separate-stderr batches --cache c.npy --emb e.npy --imsize 32 --batch 8 --epoch 1 --images i.npy --cond i.npy
  assert_fails 2 "batches: expected different output paths, found 'i.npy' twice"
  [ ! -e i.npy ] && [ ! -e k.npy ]
  assert_no_temp .
}

# ---- the exact cache: import-cub --shapes, batches --shapes, --no-augment ----

@test "import-cub --help and batches --help name --shapes and --no-augment" {
  run --separate-stderr import-cub --help
  assert_ok
  [[ "$output" == *"--shapes F      int64 (N,3): rows (off_i, H_i, W_i)"* ]]
  run --separate-stderr batches --help
  assert_ok
  [[ "$output" == *"[--shapes F.npy]"* && "$output" == *"--no-augment    for test and evaluation images"* ]]
  [[ "$output" == *"top int(round((H-S)/2)), left int(round((W-S)/2))"* ]]
}

@test "import-cub --shapes: every image at its own size, byte for byte as Pillow + torchvision (fixtures: CUB and COCO, down- and upscaled)" {
  for c in cub:train cub:test coco:train; do
    d=${c%%:*} s=${c##*:}
    for S in 32 64; do
      import-cub --root "$FX/$d" --split $s --imsize $S $([ $d = coco ] && echo --coco) \
        --images p_${d}_${s}_$S.npy --shapes s_${d}_${s}_$S.npy --captions c.txt 2>/dev/null
    done
  done
  py '
nonsq = 0
for d, s in [("cub", "train"), ("cub", "test"), ("coco", "train")]:
    for S in (32, 64):
        e = np.load("%s/expected_%s_%s_%d.npz" % (sys.argv[1], d, s, S))
        p = np.load("p_%s_%s_%d.npy" % (d, s, S), mmap_mode="r"); sh = np.load("s_%s_%s_%d.npy" % (d, s, S))
        assert p.dtype == np.uint8 and p.ndim == 1 and sh.dtype == np.int64 and sh.shape == e["shapes"].shape, (p.shape, sh.shape)
        assert (sh == e["shapes"]).all(), (d, s, S, sh.tolist(), e["shapes"].tolist())
        assert p.shape == e["pixels"].shape, (d, s, S)
        diff = np.abs(p.astype(int) - e["pixels"]).max()
        print(d, s, S, "max difference", diff)
        assert diff == 0, (d, s, S, diff)
        R = int(S * 76 / 64)
        assert (sh[:, 1:].min(axis=1) == R).all()
        nonsq += int((sh[:, 1] != sh[:, 2]).sum())
assert nonsq >= 10, nonsq
' "$FX"
}

@test "import-cub --shapes: the blocks lie back to back, the longer side is int(R*long/short), the square cache is their centre" {
  import-cub --root "$DS" --split train --imsize 32 --images sq.npy --captions c1.txt 2>/dev/null
  import-cub --root "$DS" --split train --imsize 32 --images p.npy --shapes s.npy --captions c2.txt --crops cr.npy --boxes b1.npy 2>/dev/null
  # streamed to a pipe: the same bytes
  import-cub --root "$DS" --split train --imsize 32 --images - --shapes s2.npy --captions c3.txt 2>/dev/null > p2.npy
  cmp p.npy p2.npy && cmp s.npy s2.npy && cmp c1.txt c2.txt
  py "$PYLIB"'
R = 38
sq = np.load("sq.npy"); p = np.load("p.npy"); sh = np.load("s.npy"); crops = arrays("cr.npy")
assert sh.shape == (72, 3) and sh[0, 0] == 0
ends = sh[:, 0] + 3 * sh[:, 1] * sh[:, 2]
assert (sh[1:, 0] == ends[:-1]).all() and ends[-1] == p.size
nonsq = 0
for i, (off, H, W) in enumerate(sh):
    h, w = crops[i].shape[1:]
    ow, oh = tv_resize_dims(w, h, R)
    assert (H, W) == (oh, ow), (i, H, W, h, w)
    img = p[off:off + 3 * H * W].reshape(3, H, W)
    top, left = int(round((H - R) / 2.0)), int(round((W - R) / 2.0))
    assert (sq[i] == img[:, top:top + R, left:left + R]).all(), i
    nonsq += H != W
assert nonsq >= 5, nonsq
'
}

@test "import-cub --shapes matches Pillow + torchvision live on make-dataset's images (skipped without PIL)" {
  "$PYTHON" -c 'import PIL' 2>/dev/null || skip "PIL is not importable"
  import-cub --root "$DS" --split test --imsize 48 --images p.npy --shapes s.npy --captions c.txt 2>/dev/null
  py '
sys.path.insert(0, sys.argv[2])
import cub_ref
pixels, shapes, _ = cub_ref.reference_cache(sys.argv[1], "test", 48)
sh = np.load("s.npy"); p = np.load("p.npy")
assert (sh == shapes).all() and p.shape == pixels.shape
d = np.abs(p.astype(int) - pixels).max()
print("max difference", d)
assert d == 0, d
' "$DS" "$BATS_TEST_DIRNAME/reference"
}

@test "import-cub: a truncated or corrupt JPEG exits 2 with one line and writes nothing" {
  cp -r "$DS" d3
  k=$(py 'import pickle; print(pickle.load(open("d3/train/filenames.pickle", "rb"))[5])')
  f="d3/CUB_200_2011/images/$k.jpg"
  head -c $(( $(stat -c %s "$f") / 2 )) "$f" > t.jpg && mv t.jpg "$f"
  run --separate-stderr import-cub --root d3 --split train --imsize 32 --images p.npy --shapes s.npy --captions c.txt
  assert_fails 2 "import-cub: $f: expected a valid JPEG file, found an error: Premature end of JPEG file"
  head -c 40 "$DS/CUB_200_2011/images/$k.jpg" > "$f"
  run --separate-stderr import-cub --root d3 --split train --imsize 32 --images p.npy --shapes s.npy --captions c.txt
  assert_fails 2 "import-cub: $f: expected a valid JPEG file, found an error: *"
  printf 'not a jpeg' > "$f"
  run --separate-stderr import-cub --root d3 --split train --imsize 32 --images p.npy --shapes s.npy --captions c.txt
  assert_fails 2 "import-cub: $f: expected a PNG or JPEG file, found neither signature"
  run --separate-stderr import-cub --root "$DS" --split train --imsize 32 --images p.npy --shapes p.npy --captions c.txt
  assert_fails 2 "import-cub: expected different output paths, found 'p.npy' twice"
  [ ! -e p.npy ] && [ ! -e s.npy ] && [ ! -e c.txt ]
  assert_no_temp .
}

# exact and square caches of the train split at imsize 32, and K=10 float32 rows per image.
make_exact() {
  import-cub --root "$DS" --split train --imsize 32 --images p.npy --shapes s.npy --captions c.txt 2>/dev/null
  import-cub --root "$DS" --split train --imsize 32 --images c.npy --captions c.txt 2>/dev/null
  py 'rng = np.random.default_rng(0); np.save("e.npy", rng.standard_normal((720, 6)).astype(np.float32))'
}

@test "batches --shapes: crops over each image's own positions, equal to its pixels; order and captions as the square cache's" {
  make_exact
  for e in 1 2 3; do
    batches --cache p.npy --shapes s.npy --emb e.npy --imsize 32 --batch 10 --epoch $e --seed 5 --images i$e.npy --cond k$e.npy --index x$e.npy
    batches --cache c.npy --emb e.npy --imsize 32 --batch 10 --epoch $e --seed 5 --images j$e.npy --cond l$e.npy --index y$e.npy
  done
  py "$PYLIB"'
p = np.load("p.npy"); sh = np.load("s.npy"); emb = np.load("e.npy")
beyond = 0
for e in (1, 2, 3):
    ims, x, y = np.concatenate(arrays("i%d.npy" % e)), np.concatenate(arrays("x%d.npy" % e)), np.concatenate(arrays("y%d.npy" % e))
    cd = np.concatenate(arrays("k%d.npy" % e))
    assert x.shape == (70, 5) and ims.shape == (70, 3, 32, 32)
    assert (x[:, :2] == y[:, :2]).all(), "the same images and captions as the square cache"
    assert (cd == emb[x[:, 1]]).all()
    for j, (n, row, y0, x0, f) in enumerate(x):
        off, H, W = sh[n]
        assert 0 <= y0 <= H - 32 and 0 <= x0 <= W - 32, (n, y0, x0, H, W)
        if H == W == 38: assert (x[j] == y[j]).all(), "square images: the same crop and flip"
        beyond += y0 > 6 or x0 > 6
        c = p[off:off + 3 * H * W].reshape(3, H, W)[:, y0:y0 + 32, x0:x0 + 32]
        if f: c = c[:, :, ::-1]
        want = (c.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
        assert (ims[j] == want).all(), (e, j)
    assert set(x[:, 4].tolist()) == {0, 1}
print("crops beyond the reach of the centre square:", beyond)
assert beyond >= 3, beyond
'
}

@test "batches --no-augment: torchvision's CenterCrop (fixtures), never flipped, the order and captions of the augmented run" {
  import-cub --root "$FX/cub" --split train --imsize 32 --images p.npy --shapes s.npy --captions c.txt 2>/dev/null
  py 'np.save("e.npy", np.arange(60 * 3, dtype=np.float32).reshape(60, 3))'
  batches --cache p.npy --shapes s.npy --emb e.npy --imsize 32 --batch 6 --epoch 2 --seed 1 --no-augment --images i.npy --cond k.npy --index x.npy
  batches --cache p.npy --shapes s.npy --emb e.npy --imsize 32 --batch 6 --epoch 2 --seed 1 --images ia.npy --cond ka.npy --index xa.npy
  py '
e = np.load(sys.argv[1] + "/expected_cub_train_32.npz")
im, x, xa = np.load("i.npy"), np.load("x.npy"), np.load("xa.npy")
assert (x[:, :2] == xa[:, :2]).all() and (np.load("k.npy") == np.load("ka.npy")).all()
assert (x[:, 4] == 0).all()
sh = e["shapes"]
assert (x[:, 2] == [int(round((sh[n, 1] - 32) / 2.0)) for n in x[:, 0]]).all()
assert (x[:, 3] == [int(round((sh[n, 2] - 32) / 2.0)) for n in x[:, 0]]).all()
want = (e["center"][x[:, 0]].astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
assert (im == want).all()
' "$FX"
  # the square cache: halves round to even as Python's round, (38-33)/2 = 2.5 -> 2, (38-31)/2 = 3.5 -> 4
  import-cub --root "$DS" --split train --imsize 32 --images c.npy --captions c.txt 2>/dev/null
  py 'np.save("e2.npy", np.zeros((720, 2), np.float32))'
  batches --cache c.npy --emb e2.npy --imsize 33 --batch 8 --epoch 0 --no-augment --images i33.npy --cond k33.npy --index x33.npy
  batches --cache c.npy --emb e2.npy --imsize 31 --batch 8 --epoch 0 --no-augment --images i31.npy --cond k31.npy --index x31.npy
  py "$PYLIB"'
c = np.load("c.npy")
for S, o in ((33, 2), (31, 4)):
    x = np.concatenate(arrays("x%d.npy" % S)); im = np.concatenate(arrays("i%d.npy" % S))
    assert (x[:, 2] == o).all() and (x[:, 3] == o).all() and (x[:, 4] == 0).all(), (S, x[:3])
    want = (c[x[:, 0], :, o:o + S, o:o + S].astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    assert (im == want).all(), S
'
}

@test "batches --shapes: truncated or corrupt caches and shapes, offsets out of range, images under --imsize exit 2 with one line and write nothing" {
  make_exact
  import-cub --root "$DS" --split test --imsize 32 --images pt.npy --shapes st.npy --captions ct.txt 2>/dev/null
  T=$(py 'print(np.load("p.npy", mmap_mode="r").size)')
  B="--emb e.npy --batch 8 --epoch 1 --images i.npy --cond k.npy --index x.npy"
  run --separate-stderr batches --cache p.npy --imsize 32 $B
  assert_fails 2 "batches: --cache: expected uint8 (N,3,R,R) (a flat cache needs --shapes), found uint8 ($T,)"
  run --separate-stderr batches --cache c.npy --shapes s.npy --imsize 32 $B
  assert_fails 2 "batches: --cache: expected uint8 (T,) with --shapes, found uint8 (72,3,38,38)"
  py 'np.save("s32.npy", np.load("s.npy").astype(np.int32)); np.save("s4.npy", np.load("s.npy")[:, :2].copy())'
  run --separate-stderr batches --cache p.npy --shapes s32.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected int64 (N,3), found int32 (72,3)"
  run --separate-stderr batches --cache p.npy --shapes s4.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected int64 (N,3), found int64 (72,2)"
  # truncated: the shapes, the pixels; a corrupt header; a file that is not .npy
  head -c 1000 s.npy > sh.npy
  run --separate-stderr batches --cache p.npy --shapes sh.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected 1728 bytes of array data in 'sh.npy', found * (truncated file)"
  head -c 100000 p.npy > ph.npy
  run --separate-stderr batches --cache ph.npy --shapes s.npy --imsize 32 $B
  assert_fails 2 "batches: --cache: expected $T bytes of array data in 'ph.npy', found * (truncated file)"
  py 'b = bytearray(open("s.npy", "rb").read()); b[10:30] = b"{\"descr\": \"<i8\" ,,,"; open("sc.npy", "wb").write(b)'
  run --separate-stderr batches --cache p.npy --shapes sc.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected *, found *"
  printf 'hello' > sz.npy
  run --separate-stderr batches --cache p.npy --shapes sz.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected *, found *"
  # offsets out of range, a block past the end, a negative offset
  py '
s = np.load("s.npy"); T = int(s[-1, 0] + 3 * s[-1, 1] * s[-1, 2])
a = s.copy(); a[5, 0] = T; np.save("so1.npy", a)
a = s.copy(); a[7, 0] = T - 3 * a[7, 1] * a[7, 2] + 1; np.save("so2.npy", a)
a = s.copy(); a[0, 0] = -3; np.save("so3.npy", a)
a = s.copy(); a[9, 1] = 30; np.save("ss.npy", a)
a = s.copy(); a[9, 2] = 1 << 40; np.save("sb.npy", a)
'
  run --separate-stderr batches --cache p.npy --shapes so1.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected every image inside the $T bytes of pixels, found bytes $T..* at row 5 (--cache 'p.npy', --imsize 32)"
  run --separate-stderr batches --cache p.npy --shapes so2.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected every image inside the $T bytes of pixels, found bytes *..$((T + 1)) * at row 7 (--cache 'p.npy', --imsize 32)"
  run --separate-stderr batches --cache p.npy --shapes so3.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected every image inside the $T bytes of pixels, found bytes -3..* (* at offset -3) at row 0 (--cache 'p.npy', --imsize 32)"
  # images smaller than the crop, absurd sizes
  run --separate-stderr batches --cache p.npy --shapes ss.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected every image's height and width in \[32, 1048576\], found 30x* (HxW) at row 9 (--cache 'p.npy', --imsize 32)"
  run --separate-stderr batches --cache p.npy --shapes s.npy --imsize 39 $B
  assert_fails 2 "batches: --shapes: expected every image's height and width in \[39, 1048576\], found * (HxW) at row 0 (--cache 'p.npy', --imsize 39)"
  run --separate-stderr batches --cache p.npy --shapes sb.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected every image's height and width in \[32, 1048576\], found *x1099511627776 (HxW) at row 9 *"
  # the shapes of another cache (the test split's)
  run --separate-stderr batches --cache p.npy --shapes st.npy --imsize 32 $B
  assert_fails 2 "batches: --shapes: expected the images to end where the $T bytes of pixels end, found them ending at byte * (the shapes of another cache?) (--cache 'p.npy', --imsize 32)"
  [ ! -e i.npy ] && [ ! -e k.npy ] && [ ! -e x.npy ]
  assert_no_temp .
}
