"""cub_ref.py: golden fixtures for test/dataset.bats (import-cub --shapes, batches --no-augment).

DF-GAN's image pipeline, run by Pillow and torchvision themselves (code/lib/datasets.py,
get_imgs, with the transforms of code/lib/perpare.py):
    img = Image.open(path).convert('RGB')
    CUB: img = img.crop([x1, y1, x2, y2])       (r = int(max(w, h) * 0.75) around the bbox centre)
    transforms.Resize(int(imsize * 76 / 64))    (smaller edge to R, the other int(R * long / short),
                                                 PIL's bilinear resample with its antialiasing)
    then RandomCrop(imsize), RandomHorizontalFlip() (bin/batches), or CenterCrop(imsize) for
    batches --no-augment.
The Resize rule is the same in every torchvision DF-GAN could have used (0.2 to 0.14); without
torchvision the rule is applied here as written above, with PIL's Image.resize.

Writes test/fixtures/dataset/:
  cub/    a small dataset in DF-GAN's CUB layout (CUB_200_2011/images.txt, bounding_boxes.txt,
          images/<class>/<name>.jpg, text/<class>/<name>.txt, train|test/filenames.pickle):
          non-square JPEGs, boxes inside the image and meeting each border (non-square crops),
          fractional box values, a greyscale, a progressive 4:4:4 and a crop small enough to be
          upscaled
  coco/   a small dataset in DF-GAN's COCO layout (images/train2014, text/, train/filenames.pickle)
  expected_<cub|coco>_<split>_<imsize>.npz:
          pixels  uint8 (T,)    the images after Resize, (3,H,W) CHW blocks back to back
          shapes  int64 (N,3)   (offset, H, W) per image
          center  uint8 (N,3,S,S) torchvision's CenterCrop(imsize) of each
for imsize 32 (R 38: mostly downscaling) and 64 (R 76: mostly upscaling).

Needs numpy and Pillow (Debian: python3-pil), and torchvision where importable (python3-torchvision);
the tests need only numpy, and import reference_cache() from this file to compare against Pillow
live where it is importable. Run from anywhere:
    python3 test/reference/cub_ref.py
"""
import os
import pickle
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "dataset")


def load_bbox(root):
    """DF-GAN's load_bbox: bounding_boxes.txt by line (pandas, then .astype(int): truncation),
    keyed by images.txt's path without its extension."""
    names = [l.split()[1][:-4] for l in open(os.path.join(root, "CUB_200_2011", "images.txt"))]
    rows = [[float(v) for v in l.split()] for l in open(os.path.join(root, "CUB_200_2011", "bounding_boxes.txt"))]
    return {k: [int(v) for v in r[1:]] for k, r in zip(names, rows)}


def dfgan_box(bbox, width, height):
    """DF-GAN's get_imgs crop box."""
    r = int(np.maximum(bbox[2], bbox[3]) * 0.75)
    center_x = int((2 * bbox[0] + bbox[2]) / 2)
    center_y = int((2 * bbox[1] + bbox[3]) / 2)
    y1 = np.maximum(0, center_y - r)
    y2 = np.minimum(height, center_y + r)
    x1 = np.maximum(0, center_x - r)
    x2 = np.minimum(width, center_x + r)
    return [int(x1), int(y1), int(x2), int(y2)]


def tv_resize(img, size):
    """transforms.Resize(size) for an int size on a PIL image."""
    try:
        from torchvision import transforms
    except ImportError:
        transforms = None
    if transforms is not None:
        return transforms.Resize(size)(img)
    from PIL import Image
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return img.resize((new_w, new_h), Image.BILINEAR)


def tv_center_crop(img, size):
    """transforms.CenterCrop(size) on a PIL image."""
    try:
        from torchvision import transforms
    except ImportError:
        transforms = None
    if transforms is not None:
        return transforms.CenterCrop(size)(img)
    w, h = img.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def reference_cache(root, split, imsize, coco=False, limit=None):
    """import-cub --shapes by Pillow and torchvision: (pixels (T,), shapes (N,3), center (N,3,S,S))."""
    from PIL import Image
    names = pickle.load(open(os.path.join(root, split, "filenames.pickle"), "rb"))
    if limit:
        names = names[:limit]
    bb = None if coco else load_bbox(root)
    R = int(imsize * 76 / 64)
    blocks, shapes, centers, off = [], [], [], 0
    for k in names:
        if coco:
            path = os.path.join(root, "images", "train2014" if split == "train" else "val2014", k + ".jpg")
        else:
            path = os.path.join(root, "CUB_200_2011", "images", k + ".jpg")
        img = Image.open(path).convert("RGB")
        if not coco:
            img = img.crop(dfgan_box(bb[k], *img.size))
        img = tv_resize(img, R)
        a = np.asarray(img).transpose(2, 0, 1)
        blocks.append(a.reshape(-1))
        shapes.append((off, a.shape[1], a.shape[2]))
        off += a.size
        centers.append(np.asarray(tv_center_crop(img, imsize)).transpose(2, 0, 1))
    return np.concatenate(blocks), np.array(shapes, np.int64), np.stack(centers)


# ---- the fixture datasets ----

def picture(rng, w, h, grey=False):
    """A smooth picture with a few discs and bars (JPEG-friendly, still full of edges)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        a, b, p = rng.uniform(0.02, 0.15, 3)
        img[..., c] = 128 + 60 * np.sin(a * x + p * 7) * np.cos(b * y + c)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(4, max(w, h) / 3)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(0, 256, 3)
    x0 = int(rng.integers(0, w - 2))
    img[:, x0:x0 + 2] = rng.integers(0, 256, 3)
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img.mean(axis=2).astype(np.uint8) if grey else img


def save_jpeg(path, arr, **kw):
    from PIL import Image
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path, "JPEG", quality=kw.pop("quality", 90), **kw)


def captions(path, words):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for i in range(10):
            f.write("a %s picture number %d with %s\n" % (words, i, "shapes" if i % 2 else "colours"))


# (class, name, width, height, box x y w h as written, jpeg options, grey)
CUB = {
    "train": [
        ("001.Fix_One", "Fix_One_0001", 90, 70, "30.0 20.0 24.0 20.0", {}, False),       # inside: square crop
        ("001.Fix_One", "Fix_One_0002", 100, 60, "2.0 10.0 40.0 30.0", {}, False),       # meets the left and top
        ("002.Fix_Two", "Fix_Two_0001", 50, 120, "5.0 3.0 30.0 40.0", {}, False),        # meets left, top, right
        ("002.Fix_Two", "Fix_Two_0002", 80, 80, "10.0 10.0 60.0 60.0", {}, True),        # greyscale, all four
        ("003.Fix_Three", "Fix_Three_0001", 75, 95, "20.7 40.2 30.9 22.5",               # fractions; progressive
         {"progressive": True, "subsampling": 0}, False),
        ("003.Fix_Three", "Fix_Three_0002", 64, 64, "26.0 28.0 12.0 8.0", {}, False),    # 18x18: upscaled
    ],
    "test": [
        ("004.Fix_Four", "Fix_Four_0001", 70, 100, "40.0 60.0 28.0 38.0", {}, False),    # meets right and bottom
        ("004.Fix_Four", "Fix_Four_0002", 61, 47, "10.0 8.0 40.0 30.0", {"quality": 75}, False),
    ],
}
COCO = [(64, 48, False), (47, 71, False), (33, 33, True)]


def write_cub(root, rng):
    shutil.rmtree(root, ignore_errors=True)
    ids, boxes = [], []
    for split, rows in CUB.items():
        names = []
        for cls, name, w, h, box, opts, grey in rows:
            key = cls + "/" + name
            save_jpeg(os.path.join(root, "CUB_200_2011", "images", key + ".jpg"), picture(rng, w, h, grey), **opts)
            captions(os.path.join(root, "text", key + ".txt"), cls[4:].replace("_", " ").lower())
            ids.append(key + ".jpg")
            boxes.append(box)
            names.append(key)
        os.makedirs(os.path.join(root, split), exist_ok=True)
        pickle.dump(names, open(os.path.join(root, split, "filenames.pickle"), "wb"), protocol=2)
    with open(os.path.join(root, "CUB_200_2011", "images.txt"), "w") as f:
        f.writelines("%d %s\n" % (i + 1, p) for i, p in enumerate(ids))
    with open(os.path.join(root, "CUB_200_2011", "bounding_boxes.txt"), "w") as f:
        f.writelines("%d %s\n" % (i + 1, b) for i, b in enumerate(boxes))


def write_coco(root, rng):
    shutil.rmtree(root, ignore_errors=True)
    names = []
    for i, (w, h, grey) in enumerate(COCO):
        n = "COCO_train2014_%012d" % (i + 1)
        save_jpeg(os.path.join(root, "images", "train2014", n + ".jpg"), picture(rng, w, h, grey))
        captions(os.path.join(root, "text", n + ".txt"), "coco")
        names.append(n)
    os.makedirs(os.path.join(root, "train"), exist_ok=True)
    pickle.dump(names, open(os.path.join(root, "train", "filenames.pickle"), "wb"), protocol=2)


def main():
    rng = np.random.default_rng(20240611)
    os.makedirs(OUT, exist_ok=True)
    write_cub(os.path.join(OUT, "cub"), rng)
    write_coco(os.path.join(OUT, "coco"), rng)
    cases = [("cub", "train"), ("cub", "test"), ("coco", "train")]
    for ds, split in cases:
        for imsize in (32, 64):
            pixels, shapes, center = reference_cache(os.path.join(OUT, ds), split, imsize, coco=ds == "coco")
            np.savez_compressed(os.path.join(OUT, "expected_%s_%s_%d.npz" % (ds, split, imsize)),
                                pixels=pixels, shapes=shapes, center=center)
            print(ds, split, imsize, "shapes", shapes[:, 1:].tolist(), file=sys.stderr)


if __name__ == "__main__":
    main()
