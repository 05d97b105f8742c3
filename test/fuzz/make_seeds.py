#!/usr/bin/env python3
"""Write the fuzzers' seed corpora, test/fuzz/corpus/<harness>/: tiny valid inputs (and a few
near-misses) of every shape each reader knows, so that libFuzzer starts deep in the formats.

Run from the repository root with a Python that has numpy and PIL (torch as well for the
checkpoint seeds: /usr/bin/python3 here), after `make` (the npz seed of our own writer comes from
`bin/ckpt import`):   /usr/bin/python3 test/fuzz/make_seeds.py
Existing seeds are replaced (the corpora that `make fuzz` grows live in build/fuzz/corpus/);
the output is the same every run but for the legacy PyTorch files' storage keys (torch names
them by address). Small: every file is a few KB at most, but the DF-GAN checkpoints (the
smallest NetG/NetD/NetC that DF-GAN's code builds, ~45 KB)."""
import collections
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CORPUS = os.path.join(ROOT, 'test', 'fuzz', 'corpus')
FX = os.path.join(ROOT, 'test', 'fixtures')


def out(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def copy(harness, name, src):
    with open(os.path.join(FX, src), 'rb') as f:
        out(harness, name, f.read())


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version:
        np.lib.format.write_array(b, a, version=version)
    else:
        np.save(b, a)
    return b.getvalue()


def npz_bytes(compressed=False, **arrays):
    b = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(b, **arrays)
    return b.getvalue()


# ---- npy ----

def seeds_npy():
    out('npy', 'f4_2x3.npy', npy_bytes(np.arange(6, dtype='<f4').reshape(2, 3)))
    out('npy', 'f8_be.npy', npy_bytes(np.array([1.5, -2, 3], dtype='>f8')))
    out('npy', 'i8_scalar.npy', npy_bytes(np.array(7, dtype='<i8')))
    out('npy', 'u1_empty.npy', npy_bytes(np.zeros((0, 3), dtype='u1')))
    out('npy', 'b1_fortran_col.npy', npy_bytes(np.asfortranarray(np.array([[True], [False]]))))
    out('npy', 'f4_fortran_2x2.npy', npy_bytes(np.asfortranarray(np.eye(2, dtype='<f4'))))
    out('npy', 'f2_v2.npy', npy_bytes(np.array([1, 2], dtype='<f2'), version=(2, 0)))
    out('npy', 'i2_v3.npy', npy_bytes(np.array([[-1, 2]], dtype='>i2'), version=(3, 0)))
    stream = b''.join(npy_bytes(a) for a in (np.ones((1, 2), '<f4'), np.array([3, 4], '<i4'),
                                             np.array([5], 'u1'), np.array([6], '<u2'),
                                             np.array([7], '<u4'), np.array([8], '<u8'), np.array([-9], 'i1')))
    out('npy', 'stream7.npy', stream)
    out('npy', 'object.npy', npy_bytes(np.array([None, 1], dtype=object)))
    out('npy', 'structured.npy', npy_bytes(np.zeros(1, dtype=[('a', '<f4'), ('b', '<i4')])))
    out('npy', 'truncated.npy', npy_bytes(np.arange(8, dtype='<f8'))[:-5])


# ---- zip and npz ----

def zip_bytes(members, compression=zipfile.ZIP_STORED, force_zip64=False):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', compression) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            with z.open(info, 'w', force_zip64=force_zip64) as f:
                f.write(data)
    return b.getvalue()


def seeds_zip_npz():
    two = [('a.txt', b'hello zip\n' * 3), ('dir/b.bin', bytes(range(40)))]
    out('zip', 'stored.zip', zip_bytes(two))
    out('zip', 'deflated.zip', zip_bytes(two, zipfile.ZIP_DEFLATED))
    out('zip', 'zip64.zip', zip_bytes(two, force_zip64=True))
    out('zip', 'empty.zip', zip_bytes([]))
    out('zip', 'empty_member.zip', zip_bytes([('e', b'')], zipfile.ZIP_DEFLATED))
    copy('zip', 'torch_zip.pt', 'ckpt/sd_zip.pt')

    arrays = dict(w=np.arange(6, dtype='<f4').reshape(2, 3), n=np.array(3, '<i8'), e=np.zeros((0,), 'u1'))
    out('npz', 'savez.npz', npz_bytes(**arrays))
    out('npz', 'savez_compressed.npz', npz_bytes(True, **arrays))
    out('npz', 'be.npz', npz_bytes(x=np.array([1, 2], '>f8')))
    members = [(k + '.npy', npy_bytes(v)) for k, v in arrays.items()]
    out('npz', 'zip64.npz', zip_bytes(members, force_zip64=True))
    out('npz', 'not_npy_member.npz', zip_bytes([('x.npy', b'not an array')]))
    out('zip', 'savez_compressed.npz', npz_bytes(True, **arrays))
    # our own writer (npz_write: 64-byte aligned data, padding in the local extra field)
    ckpt = os.path.join(ROOT, 'bin', 'ckpt')
    if os.access(ckpt, os.X_OK):
        with tempfile.TemporaryDirectory() as t:
            p = os.path.join(t, 'ours.npz')
            subprocess.run([ckpt, 'import', os.path.join(FX, 'ckpt', 'st.safetensors'), '-o', p], check=True,
                           stderr=subprocess.DEVNULL)
            with open(p, 'rb') as f:
                data = f.read()
        out('npz', 'npz_write.npz', data)
        out('zip', 'npz_write.npz', data)
        out('ckpt', 'npz_write.npz', data)
    else:
        print('make_seeds: no bin/ckpt (run make first): skipping the npz_write seed', file=sys.stderr)


# ---- pickle ----

def seeds_pickle():
    value = collections.OrderedDict([
        ('ints', [0, 1, 255, 256, 65535, 65536, -1, 2 ** 31, -2 ** 63, 2 ** 100]),
        ('floats', (1.5, -0.0, float('inf'))),
        ('text', 'caf\u00e9'), ('bytes', b'\x00\x01'), ('none', None), ('flags', [True, False]),
        ('nested', {'a': {'b': [(), (1,), (1, 2), (1, 2, 3)]}}), ('set', {1, 2}), ('frozen', frozenset([3])),
    ])
    shared = [1, 2]
    value['shared'] = [shared, shared]
    for proto in range(5):
        out('pickle', 'p%d.pkl' % proto, pickle.dumps(value, protocol=proto))
    out('pickle', 'two_pickles.pkl', pickle.dumps(119547037146038801333356, 2) + pickle.dumps({'k': 1}, 2))
    copy('pickle', 'filenames.pickle', 'dataset/cub/train/filenames.pickle')
    copy('pickle', 'torch_legacy.pt', 'ckpt/sd_legacy.pt')   # a legacy torch file is pickles back to back
    with zipfile.ZipFile(os.path.join(FX, 'ckpt', 'sd_zip.pt')) as z:
        name = [n for n in z.namelist() if n.endswith('/data.pkl')][0]
        out('pickle', 'torch_data.pkl', z.read(name))
    out('pickle', 'evil_system.pkl', b'cos\nsystem\n(S\'true\'\ntR.')


# ---- safetensors ----

def st_bytes(entries, metadata=None, pad=b''):
    header, data = collections.OrderedDict(), b''
    if metadata is not None:
        header['__metadata__'] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(',', ':')).encode() + pad
    return struct.pack('<Q', len(h)) + h + data


def seeds_safetensors():
    copy('safetensors', 'fixture.safetensors', 'ckpt/st.safetensors')
    out('safetensors', 'empty.safetensors', st_bytes([]))
    out('safetensors', 'metadata_only.safetensors', st_bytes([], {'format': 'pt'}, b'  '))
    out('safetensors', 'dtypes.safetensors', st_bytes([
        ('f16', 'F16', [2], b'\x00\x3c\x00\xc0'), ('bf16', 'BF16', [1, 1], b'\x80\x3f'),
        ('f64', 'F64', [1], struct.pack('<d', 2.5)), ('i64', 'I64', [], struct.pack('<q', -3)),
        ('i32', 'I32', [1], b'\x01\0\0\0'), ('i16', 'I16', [1], b'\x02\0'), ('i8', 'I8', [1], b'\xff'),
        ('u8', 'U8', [2], b'\x01\x02'), ('b', 'BOOL', [1], b'\x01'), ('u16', 'U16', [1], b'\x01\0'),
        ('u32', 'U32', [1], b'\x01\0\0\0'), ('u64', 'U64', [1], b'\x01' + b'\0' * 7),
        ('zero', 'F32', [0, 3], b''), ('f32', 'F32', [2, 1], struct.pack('<2f', 1, -1))]))
    out('safetensors', 'escaped_name.safetensors', st_bytes([('a\\"\u00e9\U0001f600', 'F32', [1], b'\0\0\x80\x3f')]))
    copy('ckpt', 'st.safetensors', 'ckpt/st.safetensors')


# ---- checkpoints ----

def seeds_ckpt():
    for name in ('sd_zip.pt', 'sd_legacy.pt', 'sd_proto4.pt'):
        copy('ckpt', name, 'ckpt/' + name)
    out('ckpt', 'savez.npz', npz_bytes(w=np.ones((2, 2), '<f4'), s=np.array(1, '<i8')))


def seeds_dfgan():
    copy('dfgan', 'not_dict.pth', 'ckpt/bad/dfgan_not_dict.pth')
    try:
        import torch
    except ImportError:
        print('make_seeds: no torch: skipping the DF-GAN checkpoint seed', file=sys.stderr)
        return
    sys.path.insert(0, os.path.join(ROOT, 'test', 'reference'))
    import dfgan_ref  # DF-GAN's modules (sets float64 as the default dtype)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(1)
    netG = dfgan_ref.NetG(1, 1, 1, 32, 3).float()
    netD = dfgan_ref.NetD(1, 32, 3).float()
    netC = dfgan_ref.NetC(1, 1).float()
    model = {'netG': netG.state_dict(), 'netD': netD.state_dict(), 'netC': netC.state_dict()}
    b = io.BytesIO()
    torch.save({'model': model, 'epoch': 1}, b, _use_new_zipfile_serialization=False)
    out('dfgan', 'model_legacy.pth', b.getvalue())
    # with optimizers as DF-GAN's save_models writes them, their Adam state cut to two parameters
    # each (step 0, where a partial state is allowed) to keep the file small
    optG = torch.optim.Adam(netG.parameters(), lr=0.0001, betas=(0.0, 0.9))
    optD = torch.optim.Adam(list(netD.parameters()) + list(netC.parameters()), lr=0.0004, betas=(0.0, 0.9))
    fake = netG(torch.randn(1, 1), torch.randn(1, 1))
    (netC(netD(fake), torch.randn(1, 1)).mean()).backward()
    optG.step()
    optD.step()
    opts = {}
    for name, opt in (('optimizer_G', optG), ('optimizer_D', optD)):
        sd = opt.state_dict()
        sd['state'] = {k: dict(sd['state'][k], step=torch.tensor(0.)) for k in list(sd['state'])[:2]}
        opts[name] = sd
    b = io.BytesIO()
    torch.save({'model': model, 'optimizers': opts, 'epoch': 2}, b, _use_new_zipfile_serialization=False)
    out('dfgan', 'adam_legacy.pth', b.getvalue())


# ---- YAML config ----

MINIMAL = b'imsize: 32\nz_dim: 4\ncond_dim: 256\nmax_epoch: 1\nbatch_size: 2\nnf: 1\n'


def seeds_config():
    for name in ('bird.yml', 'coco.yml'):
        with open(os.path.join(ROOT, 'cfg', name), 'rb') as f:
            out('config', name, f.read())
    out('config', 'minimal.yml', MINIMAL)
    out('config', 'flow.yml', b'{imsize: 64, z_dim: 8, cond_dim: 512, max_epoch: 2, batch_size: 4, nf: 2,\n'
                              b' text_encoder: clip, lr_g: 1e-4, truncation: off, TEXT: {WORDS_NUM: 77}}\n')
    out('config', 'quoted.yml', MINIMAL + b'data_dir: "a dir/with \\"quotes\\" and \\t tab"\n'
                                          b"checkpoint: 'it''s.pth'\nnpz_path: ~\ndevice: cuda\n"
                                          b'TEXT:\n  DAMSM_NAME: >-\n    folded\n    name.npz\n')
    out('config', 'documents.yml', b'---\n' + MINIMAL + b'...\n')
    out('config', 'anchor.yml', MINIMAL.replace(b'nf: 1', b'nf: &n 1\nmanual_seed: *n'))
    out('config', 'bad_type.yml', MINIMAL.replace(b'nf: 1', b'nf: "1"\ntruncation: maybe'))


# ---- images ----

def png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def png_bytes(w, h, depth, ctype, rows, interlace=0, extra=()):
    """A PNG of the given rows (each a list of samples per pixel, packed here), filter 0;
    interlace 1 writes the Adam7 passes."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]

    def pack(pixels):
        bits = ''.join(format(s, '0%db' % depth) for p in pixels for s in p)
        bits += '0' * (-len(bits) % 8)
        return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))

    raw = b''
    if interlace:
        for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                               (0, 1, 1, 2)):
            for y in range(y0, h, dy):
                px = [rows[y][x] for x in range(x0, w, dx)]
                if px:
                    raw += b'\0' + pack(px)
    else:
        for y in range(h):
            raw += b'\0' + pack(rows[y])
    assert all(len(p) == channels for r in rows for p in r)
    ihdr = struct.pack('>IIBBBBB', w, h, depth, ctype, 0, 0, interlace)
    return (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', ihdr) + b''.join(png_chunk(k, d) for k, d in extra) +
            png_chunk(b'IDAT', zlib.compress(raw, 9)) + png_chunk(b'IEND', b''))


def seeds_image():
    w, h = 5, 3
    grid = lambda f: [[f(x, y) for x in range(w)] for y in range(h)]  # noqa: E731
    for depth in (1, 2, 4, 8, 16):
        m = (1 << depth) - 1
        out('image', 'grey%d.png' % depth, png_bytes(w, h, depth, 0, grid(lambda x, y: [(x * 7 + y * 3) % (m + 1)])))
    out('image', 'rgb16.png', png_bytes(w, h, 16, 2, grid(lambda x, y: [x * 9000, y * 20000, 65535])))
    out('image', 'grey_alpha.png', png_bytes(w, h, 8, 4, grid(lambda x, y: [x * 40, y * 100])))
    out('image', 'rgba_adam7.png', png_bytes(9, 9, 8, 6, [[[x * 20, y * 20, 7, 200] for x in range(9)]
                                                         for y in range(9)], interlace=1))
    out('image', 'palette_trns.png', png_bytes(w, h, 4, 3, grid(lambda x, y: [(x + y) % 3]),
                                               extra=[(b'PLTE', bytes([255, 0, 0, 0, 255, 0, 0, 0, 255])),
                                                      (b'tRNS', bytes([0, 128]))]))
    out('image', 'grey_trns_gamma.png', png_bytes(w, h, 8, 0, grid(lambda x, y: [x * 50]),
                                                  extra=[(b'gAMA', struct.pack('>I', 45455)),
                                                         (b'tRNS', struct.pack('>H', 0))]))
    img = Image.new('RGB', (w, h))
    img.putdata([(x * 50, y * 100, 128) for y in range(h) for x in range(w)])
    for name, kw in (('rgb444.jpg', dict(subsampling=0)), ('rgb420.jpg', dict(subsampling=2)),
                     ('progressive.jpg', dict(progressive=True)), ('optimized.jpg', dict(optimize=True))):
        b = io.BytesIO()
        img.save(b, 'JPEG', quality=90, **kw)
        out('image', name, b.getvalue())
    b = io.BytesIO()
    img.convert('L').save(b, 'JPEG', quality=75)
    out('image', 'grey.jpg', b.getvalue())
    b = io.BytesIO()
    img.convert('CMYK').save(b, 'JPEG')
    out('image', 'cmyk.jpg', b.getvalue())
    b = io.BytesIO()
    Image.new('RGB', (17, 9), (10, 200, 30)).save(b, 'JPEG', quality=50)
    out('image', 'odd_size.jpg', b.getvalue())
    out('image', 'truncated.jpg', b.getvalue()[:-40])
    b = io.BytesIO()
    img.save(b, 'PNG')
    out('image', 'pil_rgb.png', b.getvalue())


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    seeds_npy()
    seeds_zip_npz()
    seeds_pickle()
    seeds_safetensors()
    seeds_ckpt()
    seeds_dfgan()
    seeds_config()
    seeds_image()
    for h in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, h))
        size = sum(os.path.getsize(os.path.join(CORPUS, h, f)) for f in files)
        print('%-12s %3d seeds, %7d bytes' % (h, len(files), size))


if __name__ == '__main__':
    main()
