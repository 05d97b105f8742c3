#!/usr/bin/env python3
"""Fixtures for bin/ckpt (checkpoint import): files in the official formats written by torch
and safetensors, what our importer must make of them, and hostile files it must refuse.

Run from anywhere (`make goldens` runs it from test/reference); writes test/fixtures/ckpt/.
Needs torch, numpy and safetensors (pip install safetensors). The tests need only numpy.

Fixture layout (test/fixtures/ckpt/):
  sd_zip.pt        torch.save of a state-dict-like object, zip format (torch >= 1.6)
  sd_legacy.pt     the same object, _use_new_zipfile_serialization=False (the pre-1.6 format)
  sd_proto4.pt     the same object, zip format with pickle_protocol=4 (FRAME, MEMOIZE,
                   SHORT_BINUNICODE, STACK_GLOBAL...)
                   The object: float32/float16/bfloat16/float64/int64/int32/uint8/bool tensors,
                   a transposed and a sliced view (offsets, non-contiguous strides), an expanded
                   view (stride 0), three views of one shared storage, 0-d and empty tensors, an
                   nn.Parameter, nested dicts, a DDP 'module.' prefix, lists, int dict keys and
                   non-tensor leaves (ints, floats, strings, None, a tuple, argparse.Namespace).
  sd_expected.npz  what `ckpt import` must write for each of the three (keys in file order;
                   floats as float32, ints and bools kept)
  sd_list.txt      what `ckpt list` must print for them ('key dtype shape', the dtype as stored)
  st.safetensors   safetensors.torch.save_file of F32/F16/BF16/F64/I64/I32/U8/BOOL tensors with
                   a 'module.' name and metadata;  st_expected.npz, st_list.txt
  dfgan_state_epoch_3.pth   a tiny DF-GAN training checkpoint saved as DF-GAN's save_models does
                   (NetG/NetD/NetC of test/reference/dfgan_ref.py at imsize 32, nf 1, z 4, cond 3,
                   float32, two Adam steps of each optimizer);
  dfgan_ddp_legacy.pth      the same with DDP 'module.' prefixes (multi_gpus), legacy format;
  dfgan_G.npz, dfgan_D.npz  the exact G.npz and D.npz that `ckpt import --dfgan` must write
                   (our checkpoint layout: parameters, adam.exp_avg.*, adam.exp_avg_sq.*,
                   adam.step, in that order)
  bad/             hostile and broken inputs; bad/cases.txt has one line per case:
                   FILE|MODE|MESSAGE-GLOB with MODE 'any' (list and import must both refuse it)
                   or 'dfgan' (import --dfgan must refuse it); every refusal exits 2 with one
                   line on stderr, the glob matching what follows 'ckpt: PATH: '.
  fuzz/            not written here: the 250 smallest inputs of a minimised libFuzzer corpus
                   (test/fuzz/ckpt_fuzz.c), kept as regression inputs.
"""
import argparse
import copy
import io
import os
import struct
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures', 'ckpt')
BAD = os.path.join(OUT, 'bad')

DTYPE_NAME = {torch.float32: 'float32', torch.float16: 'float16', torch.bfloat16: 'bfloat16',
              torch.float64: 'float64', torch.int64: 'int64', torch.int32: 'int32',
              torch.int16: 'int16', torch.int8: 'int8', torch.uint8: 'uint8', torch.bool: 'bool'}


def shape_str(shape):
    shape = tuple(shape)
    if len(shape) == 1:
        return '(%d,)' % shape[0]
    return '(' + ','.join(str(d) for d in shape) + ')'


def expected_array(t):
    """What the importer makes of a tensor: floats as float32, ints and bools kept, C order."""
    t = t.detach()
    if t.is_floating_point():
        t = t.float()
    return t.contiguous().numpy().copy()


def flatten(obj, prefix=''):
    """The importer's naming rules, written independently: (key, tensor) in order."""
    out = []
    if isinstance(obj, torch.Tensor):
        out.append((prefix or 'tensor', obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, bool):
                seg = 'True' if k else 'False'
            elif isinstance(k, int):
                seg = str(k)
            elif isinstance(k, str):
                seg = k
                while seg.startswith('module.'):
                    seg = seg[7:]
            else:
                continue
            out += flatten(v, prefix + '.' + seg if prefix else seg)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += flatten(v, prefix + '.' + str(i) if prefix else str(i))
    return out


def save_npz(path, pairs):
    """np.savez keeps the order of its keyword arguments; keys may hold dots."""
    np.savez(path, **OrderedDict(pairs))


def write_expected(stem, obj):
    pairs = flatten(obj)
    save_npz(os.path.join(OUT, stem + '_expected.npz'), [(k, expected_array(t)) for k, t in pairs])
    with open(os.path.join(OUT, stem + '_list.txt'), 'w') as f:
        for k, t in pairs:
            f.write('%s %s %s\n' % (k, DTYPE_NAME[t.dtype], shape_str(t.shape)))


# ---------------------------------------------------------------------------------------
# the state-dict-like object

def make_state(gen):
    def randn(*s, dtype=torch.float32):
        return torch.randn(*s, generator=gen, dtype=torch.float64).to(dtype)

    half = randn(5, 3, dtype=torch.float16)
    # float16 corner cases: subnormals, the largest value, signed zero, infinities, a NaN
    half.view(-1)[:8] = torch.tensor([6e-8, -3e-5, 65504.0, -0.0, float('inf'), float('-inf'),
                                      float('nan'), 1e-4], dtype=torch.float16)
    f64 = randn(4, dtype=torch.float64) * 1e3
    f64[0] = 1.0 + 2.0 ** -24 + 2.0 ** -30     # rounds up to float32's next value
    f64[1] = 1e300                             # overflows float32 to inf
    base_t = randn(3, 5)
    base_s = randn(6, 7)
    shared = randn(10)
    wide = randn(3, 1)
    state = OrderedDict()
    state['conv.weight'] = randn(4, 3, 3, 3)
    state['conv.bias'] = randn(4)
    state['half'] = half
    state['bf16'] = randn(2, 4, dtype=torch.bfloat16)
    state['f64'] = f64
    state['bn.num_batches_tracked'] = torch.tensor(1234, dtype=torch.int64)
    state['i32'] = torch.tensor([-7, 0, 2 ** 31 - 1], dtype=torch.int32)
    state['u8'] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    state['mask'] = torch.tensor([True, False, True, True])
    state['transposed'] = base_t.t()                     # (5,3), strides (1,5)
    state['sliced'] = base_s[2:5, 1:6:2]                 # offset 15, strides (7,2)
    state['expanded'] = wide.expand(3, 4)                # stride 0
    state['shared'] = OrderedDict([('a', shared), ('b', shared[3:7]), ('c', shared.view(2, 5))])
    state['scalar'] = torch.tensor(3.25)
    state['empty'] = torch.zeros(0, 3)
    state['param'] = torch.nn.Parameter(randn(2, 2))
    state['enc'] = {'layer': {'w': randn(2, 3)}, 'steps': 17}
    state['ddp'] = OrderedDict([('module.fc.weight', randn(3, 2)), ('module.fc.bias', randn(3))])
    state['lst'] = [randn(2), randn(1, 1), 'text']
    state['by_int'] = {0: randn(2), 5: randn(3)}
    state['epoch'] = 7
    state['lr'] = 0.1
    state['name'] = 'tiny'
    state['none'] = None
    state['pair'] = (1, 2.5)
    state['args'] = argparse.Namespace(lr=1e-4, imsize=32)
    return state


def save_safetensors_by_hand(tensors, path, metadata=None):
    import json
    codes = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64',
             torch.int64: 'I64', torch.int32: 'I32', torch.uint8: 'U8', torch.bool: 'BOOL'}
    header, blobs, off = OrderedDict(), [], 0
    if metadata:
        header['__metadata__'] = metadata
    for k, t in sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0])):
        b = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b''
        header[k] = {'dtype': codes[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


# ---------------------------------------------------------------------------------------
# DF-GAN

def make_dfgan(gen):
    sys.path.insert(0, HERE)
    import dfgan_ref  # noqa: E402  (sets float64 as default; the checkpoint is float32)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(1234)
    imsize, nf, z, cond, B = 32, 1, 4, 3, 2
    netG = dfgan_ref.NetG(nf, z, cond, imsize, 3).float()
    netD = dfgan_ref.NetD(nf, imsize, 3).float()
    netC = dfgan_ref.NetC(nf, cond).float()
    optG = torch.optim.Adam(netG.parameters(), lr=0.0001, betas=(0.0, 0.9))
    D_params = list(netD.parameters()) + list(netC.parameters())
    optD = torch.optim.Adam(D_params, lr=0.0004, betas=(0.0, 0.9))
    for _ in range(2):
        real = torch.randn(B, 3, imsize, imsize, generator=gen)
        c = torch.randn(B, cond, generator=gen)
        noise = torch.randn(B, z, generator=gen)
        fake = netG(noise, c)
        errD = torch.relu(1.0 - netC(netD(real), c)).mean() + torch.relu(1.0 + netC(netD(fake.detach()), c)).mean()
        optD.zero_grad()
        errD.backward()
        optD.step()
        errG = -netC(netD(fake), c).mean()
        optG.zero_grad()
        errG.backward()
        optG.step()
    return netG, netD, netC, optG, optD


def dfgan_expected(netG, netD, netC, optG, optD):
    """Our G.npz / D.npz layout, written independently of the C importer."""
    def layout(named_sd, params_keys, opt):
        items = [(k, v.detach().float().numpy().copy()) for k, v in named_sd]
        st = opt.state_dict()
        ids = [i for g in st['param_groups'] for i in g['params']]
        assert len(ids) == len(params_keys)
        have = [(params_keys[p], st['state'][i]) for p, i in enumerate(ids) if i in st['state']]
        for key, s in have:
            items.append(('adam.exp_avg.' + key, s['exp_avg'].float().numpy().copy()))
        for key, s in have:
            items.append(('adam.exp_avg_sq.' + key, s['exp_avg_sq'].float().numpy().copy()))
        steps = {int(s['step']) for _, s in have}
        assert len(steps) == 1
        items.append(('adam.step', np.array(steps.pop(), dtype=np.int64)))
        return items

    g_named = list(netG.state_dict().items())
    g_params = [k for k, _ in netG.named_parameters()]
    assert g_params == [k for k, _ in g_named]   # no buffers: parameters() order = state_dict order
    d_named = [('netD.' + k, v) for k, v in netD.state_dict().items()] + \
              [('netC.' + k, v) for k, v in netC.state_dict().items()]
    d_params = ['netD.' + k for k, _ in netD.named_parameters()] + ['netC.' + k for k, _ in netC.named_parameters()]
    assert d_params == [k for k, _ in d_named]
    return layout(g_named, g_params, optG), layout(d_named, d_params, optD)


def dfgan_state(netG, netD, netC, optG, optD, epoch, ddp=False):
    """DF-GAN's save_models (code/lib/utils.py); with ddp, keys as DistributedDataParallel's."""
    def sd(m):
        s = m.state_dict()
        return OrderedDict(('module.' + k, v) for k, v in s.items()) if ddp else s
    return {'model': {'netG': sd(netG), 'netD': sd(netD), 'netC': sd(netC)},
            'optimizers': {'optimizer_G': optG.state_dict(), 'optimizer_D': optD.state_dict()},
            'epoch': epoch}


# ---------------------------------------------------------------------------------------
# hostile files: a small pickle assembler

def uni(s):
    b = s.encode()
    return b'X' + struct.pack('<I', len(b)) + b


def glob(m, n):
    return b'c' + m.encode() + b'\n' + n.encode() + b'\n'


def integer(i):
    if 0 <= i < 256:
        return b'K' + bytes([i])
    if -2 ** 31 <= i < 2 ** 31:
        return b'J' + struct.pack('<i', i)
    n = (i.bit_length() + 8) // 8
    return b'\x8a' + bytes([n]) + i.to_bytes(n, 'little', signed=True)


def tup(*items):
    return b'(' + b''.join(items) + b't'


def storage(key, numel, kind='FloatStorage'):
    return tup(uni('storage'), glob('torch', kind), uni(key), uni('cpu'), integer(numel)) + b'Q'


def tensor(st, offset, size, stride):
    return glob('torch._utils', '_rebuild_tensor_v2') + tup(
        st, integer(offset), tup(*map(integer, size)), tup(*map(integer, stride)), b'\x89',
        glob('collections', 'OrderedDict') + b')R') + b'R'


def sd_pickle(body):
    """{ ... } with body a sequence of key/value opcodes."""
    return b'\x80\x02}(' + body + b'u.'


def torch_zip(path, pkl, records, extra=()):
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', pkl)
        for k, b in records.items():
            z.writestr('archive/data/' + k, b)
        for name, b in extra:
            z.writestr(name, b)
        z.writestr('archive/version', b'3\n')


def legacy(path, obj_pkl, keys, storages):
    """The pre-1.6 layout: magic, protocol, sys info, object, keys, then count + bytes each."""
    import pickle
    f = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump({'protocol_version': 1001, 'little_endian': True,
                 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, f, protocol=2)
    f.write(obj_pkl)
    pickle.dump(keys, f, protocol=2)
    for count, data in storages:
        f.write(struct.pack('<q', count) + data)
    with open(path, 'wb') as out:
        out.write(f.getvalue())


def safetensors_raw(path, header, data=b'', length=None):
    h = header.encode() if isinstance(header, str) else header
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h) if length is None else length) + h + data)


def make_bad(good_zip, good_legacy, good_st, dfgan_zip, netG, netD, netC, optG, optD):
    cases = []

    def case(name, mode, want):
        cases.append('%s|%s|%s' % (name, mode, want))

    def p(name):
        return os.path.join(BAD, name)

    f6 = struct.pack('<6f', *range(6))
    ok_t = lambda off=0, size=(2, 3), stride=(3, 1), numel=6, key='0': tensor(storage(key, numel), off, size, stride)

    # code execution attempts, refused at the GLOBAL (nothing is ever called)
    torch_zip(p('evil_system.pt'), sd_pickle(uni('w') + glob('posix', 'system') + tup(uni('touch PWNED')) + b'R'), {})
    case('evil_system.pt', 'any', "expected a pickled state dict using only tensors, storages, OrderedDict and plain "
         "data, found the global 'posix.system' (refused: unpickling it could run code)*")
    legacy(p('evil_eval_legacy.pt'), sd_pickle(uni('w') + glob('builtins', 'eval') +
                                                tup(uni("__import__('os').system('touch PWNED')")) + b'R'), [], [])
    case('evil_eval_legacy.pt', 'any', "*found the global 'builtins.eval' (refused: unpickling it could run code)*")
    # protocol 4: STACK_GLOBAL
    torch_zip(p('evil_stack_global.pt'),
              b'\x80\x04\x8c\x08builtins\x94\x8c\x04exec\x94\x93\x94\x8c\x12open("PWNED", "w")\x94\x85\x94R\x94.', {})
    case('evil_stack_global.pt', 'any', "*found the global 'builtins.exec'*")
    # a whole pickled module (torch.save(model)) is refused the same way
    torch_zip(p('pickled_module.pt'), b'\x80\x02ctorch.nn.modules.linear\nLinear\nq\x00)\x81q\x01.', {})
    case('pickled_module.pt', 'any', "*found the global 'torch.nn.modules.linear.Linear'*")
    torch_zip(p('inst_opcode.pt'), b'\x80\x02(iposix\nsystem\n.', {})
    case('inst_opcode.pt', 'any', "expected the pickle opcodes that state dicts use, found INST (0x69)*")
    torch_zip(p('reduce_noncallable.pt'), sd_pickle(uni('w') + glob('torch', 'FloatStorage') + b')R'), {})
    case('reduce_noncallable.pt', 'any', "expected a callable for REDUCE, found torch.FloatStorage*")
    # persistent ids
    torch_zip(p('bad_persid.pt'), sd_pickle(uni('w') + tup(uni('module'), uni('x')) + b'Q'), {})
    case('bad_persid.pt', 'any', "expected a persistent id ('storage', type, key, location, numel)*")
    # views out of bounds
    torch_zip(p('offset_past_end.pt'), sd_pickle(uni('w') + ok_t(off=5)), {'0': f6})
    case('offset_past_end.pt', 'any', "expected tensor 'w' (offset 5, 2 dims) within its storage's 24 bytes, found it reaching past the end")
    torch_zip(p('size_past_end.pt'), sd_pickle(uni('w') + ok_t(size=(100,), stride=(1,))), {'0': f6})
    case('size_past_end.pt', 'any', "expected tensor 'w' (offset 0, 1 dims) within its storage's 24 bytes*")
    torch_zip(p('stride_past_end.pt'), sd_pickle(uni('w') + ok_t(size=(2, 3), stride=(1, 2 ** 40))), {'0': f6})
    case('stride_past_end.pt', 'any', "expected tensor 'w' *within its storage's 24 bytes*")
    torch_zip(p('huge_shape.pt'), sd_pickle(uni('w') + ok_t(size=(2 ** 40, 2 ** 40), stride=(0, 0))), {'0': f6})
    case('huge_shape.pt', 'any', "expected tensor 'w' to hold at most 2^40 bytes, found a larger shape")
    torch_zip(p('huge_broadcast.pt'), sd_pickle(uni('w') + ok_t(size=(2 ** 30,), stride=(0,))), {'0': f6})
    case('huge_broadcast.pt', 'any', "expected tensor 'w' to be at most 16 times as large as its storage*")
    torch_zip(p('numel_past_record.pt'), sd_pickle(uni('w') + ok_t(numel=1000)), {'0': f6})
    case('numel_past_record.pt', 'any', "expected 1000 float32 elements in storage '0', found 24 bytes")
    torch_zip(p('missing_record.pt'), sd_pickle(uni('w') + ok_t(key='7')), {'0': f6})
    case('missing_record.pt', 'any', "expected a record 'archive/data/7' for storage '7', found none")
    torch_zip(p('negative_size.pt'), sd_pickle(uni('w') + ok_t(size=(-1, 3))), {'0': f6})
    case('negative_size.pt', 'any', "expected non-negative values in the tensor's sizes, found -1*")
    torch_zip(p('too_many_dims.pt'), sd_pickle(uni('w') + ok_t(size=(1,) * 9, stride=(1,) * 9)), {'0': f6})
    case('too_many_dims.pt', 'any', "expected a tensor of at most 8 dimensions, found 9*")
    # pickle machine errors
    torch_zip(p('memo_undefined.pt'), b'\x80\x02h\x05.', {})
    case('memo_undefined.pt', 'any', "expected memo entry 5 to be defined, found none (corrupt pickle)*")
    torch_zip(p('memo_huge.pt'), b'\x80\x02}r\xff\xff\xff\xff.', {})
    case('memo_huge.pt', 'any', "expected memo indices below 4194304, found 4294967295*")
    torch_zip(p('stack_underflow.pt'), b'\x80\x02R.', {})
    case('stack_underflow.pt', 'any', "expected an object on the pickle stack, found it empty (corrupt pickle)*")
    torch_zip(p('string_huge.pt'), b'\x80\x02X\xff\xff\xff\x7fabc.', {})
    case('string_huge.pt', 'any', "expected BINUNICODE of at most 268435456 bytes, found 2147483647*")
    torch_zip(p('string_past_end.pt'), b'\x80\x02X\xe8\x03\x00\x00abc.', {})
    case('string_past_end.pt', 'any', "expected 1000 more bytes for BINUNICODE, found 4 (truncated pickle)*")
    torch_zip(p('no_stop.pt'), b'\x80\x02}q\x00', {})
    case('no_stop.pt', 'any', "expected a STOP opcode, found the data ending (truncated pickle)*")
    torch_zip(p('bad_opcode.pt'), b'\x80\x02\xff.', {})
    case('bad_opcode.pt', 'any', "expected a pickle opcode, found byte 0xff (not a pickle, or corrupt)*")
    torch_zip(p('setitems_on_list.pt'), b'\x80\x02](K\x01K\x02u.', {})
    case('setitems_on_list.pt', 'any', "expected a dict for SETITEMS, found list*")
    # nesting: 100 lists deep, a list containing itself, and references shared 2^30 ways
    deep = b'\x80\x02' + b']' * 100 + b'a' * 99 + b'.'
    torch_zip(p('deep_nesting.pt'), deep, {})
    case('deep_nesting.pt', 'any', "expected containers nested at most 64 deep, found deeper (a cycle?)")
    torch_zip(p('cycle.pt'), b'\x80\x02]q\x00h\x00a.', {})
    case('cycle.pt', 'any', "expected containers nested at most 64 deep, found deeper (a cycle?)")
    for name, leaf, want in [('shared_blowup.pt', ok_t(), "expected at most 1048576 tensors, found more"),
                             ('shared_blowup_ints.pt', b'K\x01', "expected at most 16777216 objects reachable in the "
                              "checkpoint, found more (shared references over and over?)")]:
        blow = b'\x80\x02' + leaf + b'q\x00'
        for i in range(30):
            blow += b'(h%ch%ct' % (i, i) + b'q' + bytes([i + 1])
        torch_zip(p(name), blow + b'.', {'0': f6})
        case(name, 'any', want)
    torch_zip(p('dup_keys.pt'), sd_pickle(uni('module.w') + ok_t() + uni('w') + ok_t()), {'0': f6})
    case('dup_keys.pt', 'any', "expected unique tensor keys, found 'w' twice (after dropping 'module.' prefixes)")
    # zip damage
    good = open(good_zip, 'rb').read()
    rec = [i for i in zipfile.ZipFile(good_zip).infolist() if i.filename.endswith('/data/0')][0]
    hdr = rec.header_offset
    data_at = hdr + 30 + struct.unpack('<H', good[hdr + 26:hdr + 28])[0] + struct.unpack('<H', good[hdr + 28:hdr + 30])[0]
    bad = bytearray(good)
    bad[data_at] ^= 0xFF
    open(p('bad_crc.pt'), 'wb').write(bytes(bad))
    case('bad_crc.pt', 'any', "expected CRC-32 * for member 'sd_zip/data/0' of '*', found * (corrupt archive)")
    eocd = good.rindex(b'PK\x05\x06')
    bad = bytearray(good)
    bad[eocd + 16:eocd + 20] = struct.pack('<I', 0x7FFFFFF0)
    if good[eocd - 20:eocd - 16] == b'PK\x06\x07':   # torch writes zip64: patch the zip64 record too
        z64 = struct.unpack('<Q', good[eocd - 12:eocd - 4])[0]
        bad[z64 + 48:z64 + 56] = struct.pack('<Q', 2 ** 40)
    open(p('bad_cd_offset.pt'), 'wb').write(bytes(bad))
    case('bad_cd_offset.pt', 'any', "expected a central directory of * entries within the * bytes of '*', found it out of bounds*")
    # legacy damage
    good = open(good_legacy, 'rb').read()
    open(p('legacy_bad_magic.pt'), 'wb').write(good[:4] + bytes([good[4] ^ 1]) + good[5:])
    case('legacy_bad_magic.pt', 'any', "expected PyTorch's magic number 0x1950a86a20f9469cfc6c first, found another number*")
    legacy(p('legacy_count_mismatch.pt'), sd_pickle(uni('w') + ok_t()), ['0'], [(5, f6)])
    case('legacy_count_mismatch.pt', 'any', "expected 6 elements in storage '0', found a count of 5")
    legacy(p('legacy_short_data.pt'), sd_pickle(uni('w') + ok_t()), ['0'], [(6, f6[:10])])
    case('legacy_short_data.pt', 'any', "expected 24 bytes of storage '0' at byte *, found 10 (truncated file)")
    legacy(p('legacy_unknown_key.pt'), sd_pickle(uni('w') + ok_t()), ['0', '9'], [(6, f6), (6, f6)])
    case('legacy_unknown_key.pt', 'any', "expected storage key '9' to belong to a tensor of the object, found none")
    # safetensors
    st = open(good_st, 'rb').read()
    hl = struct.unpack('<Q', st[:8])[0]
    open(p('st_header_past_end.safetensors'), 'wb').write(struct.pack('<Q', len(st)) + st[8:])
    case('st_header_past_end.safetensors', 'any', "expected a safetensors header within the file, found a header length of * (truncated file?)")
    open(p('st_truncated_data.safetensors'), 'wb').write(st[:8 + hl + 10])
    case('st_truncated_data.safetensors', 'any', "expected data_offsets within the 10 data bytes for tensor '*', found *")
    ent = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
    junk = [
        ('st_trailing_comma', '{"a":%s,}' % ent, "expected a string, found '}' (header byte *)"),
        ('st_bad_escape', '{"a\\q":%s}' % ent, "expected a JSON escape *, found '?q' (header byte *)"),
        ('st_unterminated', '{"a":%s' % ent, "expected ',' or '}' after a header entry, found the header ending*"),
        ('st_not_utf8', b'{"a\xff":' + ent.encode() + b'}', "expected UTF-8 text, found an invalid byte 0xff*"),
        ('st_lone_surrogate', '{"a\\udc00":%s}' % ent, "expected a high surrogate before a low one, found a lone ?udc00*"),
        ('st_dup_name', '{"a":%s,"a":%s}' % (ent, ent), "expected unique tensor names in the header, found 'a' twice"),
        ('st_missing_offsets', '{"a":{"dtype":"F32","shape":[2]}}', "expected 'dtype', 'shape' and 'data_offsets' for tensor 'a', found 'data_offsets' missing*"),
        ('st_negative_dim', '{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', "expected a non-negative integer for a dimension, found '-'*"),
        ('st_float_dim', '{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', "expected an integer for a dimension, found a fraction or exponent*"),
        ('st_size_mismatch', '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', "expected 12 bytes for tensor 'a' (float32, 3 elements), found data_offsets spanning 8"),
        ('st_offsets_past_end', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', "expected data_offsets within the 8 data bytes for tensor 'a', found [8, 16]"),
        ('st_unknown_dtype', '{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}', "expected a dtype of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL U16 U32 U64 for tensor 'a', found 'F8_E4M3'*"),
        ('st_huge_shape', '{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', "expected tensor 'a' of at most 2^40 elements, found a larger shape"),
        ('st_deep_metadata', '{"__metadata__":{"x":' + '[' * 40 + '}}', "expected string values in '__metadata__', found another value*"),
        ('st_deep_unknown_field', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":' + '[' * 40 + ']' * 40 + '}}', "expected JSON nested at most 16 deep, found deeper*"),
        ('st_garbage_after', '{"a":%s} x' % ent, "expected only spaces after the header's JSON object, found 'x'*"),
        ('st_leading_zero', '{"a":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}}', "expected a JSON number for a dimension, found one with a leading zero*"),
    ]
    for name, header, want in junk:
        safetensors_raw(p(name + '.safetensors'), header, b'\0' * 8)
        case(name + '.safetensors', 'any', want)
    # not a checkpoint at all
    open(p('not_a_checkpoint.txt'), 'wb').write(b'hello world\n')
    case('not_a_checkpoint.txt', 'any', "expected a checkpoint (PyTorch zip or legacy, safetensors or npz), found a file starting with 'hello wo'")
    open(p('empty.pt'), 'wb').write(b'')
    case('empty.pt', 'any', "expected a checkpoint (PyTorch, safetensors or npz), found an empty file")
    with zipfile.ZipFile(p('zip_without_pkl.zip'), 'w') as z:
        z.writestr('hello.txt', b'hi')
    case('zip_without_pkl.zip', 'any', "expected a PyTorch zip checkpoint (<archive>/data.pkl) or an .npz, found a zip with neither")
    # DF-GAN checkpoints that do not fit (legacy format and no optimizers where the case allows:
    # smaller files)
    def save_small(obj, name):
        torch.save(obj, p(name), _use_new_zipfile_serialization=False)

    def fresh():   # a deep copy: an optimizer's state_dict() shares its live per-parameter dicts
        return copy.deepcopy(dfgan_state(netG, netD, netC, optG, optD, 3))

    st_ = fresh()
    del st_['model']['netC'], st_['optimizers']
    save_small(st_, 'dfgan_no_netC.pth')
    case('dfgan_no_netC.pth', 'dfgan', "expected a DF-GAN checkpoint with a dict ['model']['netC'], found none")
    st_ = fresh()
    del st_['optimizers']
    st_['model']['netG']['GBlocks.0.c1.bias'] = st_['model']['netG']['GBlocks.0.c1.bias'][:-1]
    save_small(st_, 'dfgan_wrong_shape.pth')
    case('dfgan_wrong_shape.pth', 'dfgan', "expected 'GBlocks.0.c1.bias' float (4,), found float32 (3,)")
    st_ = fresh()
    st_['optimizers']['optimizer_D']['param_groups'][0]['params'] = st_['optimizers']['optimizer_D']['param_groups'][0]['params'][:-1]
    save_small(st_, 'dfgan_param_count.pth')
    case('dfgan_param_count.pth', 'dfgan', "expected * parameters in optimizers['optimizer_D'] (the model's), found *")
    st_ = fresh()
    g0 = st_['optimizers']['optimizer_G']['state'][0]
    g0['max_exp_avg_sq'] = g0['exp_avg_sq']
    save_small(st_, 'dfgan_amsgrad.pth')
    case('dfgan_amsgrad.pth', 'dfgan', "expected Adam without amsgrad in optimizers['optimizer_G'], found max_exp_avg_sq for 'fc.weight'")
    st_ = fresh()
    st_['optimizers']['optimizer_G']['state'][1]['step'] = torch.tensor(5.0)
    save_small(st_, 'dfgan_mixed_steps.pth')
    case('dfgan_mixed_steps.pth', 'dfgan', "expected one Adam step count for all parameters in optimizers['optimizer_G'], found 2 and 5")
    save_small({'model': 3}, 'dfgan_not_dict.pth')
    case('dfgan_not_dict.pth', 'dfgan', "expected a DF-GAN checkpoint with a dict checkpoint['model'], found int")
    with open(os.path.join(BAD, 'cases.txt'), 'w') as f:
        f.write('\n'.join(cases) + '\n')
    return len(cases)


def main():
    os.makedirs(BAD, exist_ok=True)
    gen = torch.Generator().manual_seed(20240601)
    state = make_state(gen)
    zp, lp = os.path.join(OUT, 'sd_zip.pt'), os.path.join(OUT, 'sd_legacy.pt')
    torch.save(state, zp)
    torch.save(state, lp, _use_new_zipfile_serialization=False)
    torch.save(state, os.path.join(OUT, 'sd_proto4.pt'), pickle_protocol=4)
    write_expected('sd', state)
    # the files round-trip through torch itself
    for path in (zp, lp):
        back = torch.load(path)
        for (k1, a), (k2, b) in zip(flatten(state), flatten(back)):
            assert k1 == k2 and a.dtype == b.dtype, k1
            if a.is_floating_point():
                a, b = a.float().nan_to_num(), b.float().nan_to_num()
            assert torch.equal(a, b), k1

    try:
        from safetensors.torch import save_file
    except ImportError:   # the format is simple enough to write by hand (same layout as the library's)
        print('safetensors not installed: writing st.safetensors by hand')
        save_file = save_safetensors_by_hand
    st = OrderedDict([
        ('w32', torch.randn(3, 4, generator=gen)),
        ('w16', torch.randn(5, generator=gen).half()),
        ('wbf', torch.randn(2, 2, generator=gen).bfloat16()),
        ('w64', torch.randn(3, generator=gen, dtype=torch.float64)),
        ('count', torch.tensor([5, -6], dtype=torch.int64)),
        ('module.i32', torch.tensor([1, 2, 3], dtype=torch.int32)),
        ('u8', torch.tensor([7, 250], dtype=torch.uint8)),
        ('flags', torch.tensor([True, False])),
        ('scalar', torch.tensor(1.5)),
        ('empty', torch.zeros(0, 2)),
    ])
    stp = os.path.join(OUT, 'st.safetensors')
    save_file(st, stp, metadata={'format': 'pt', 'note': 'tiny "quoted" \u00e9'})
    # our order is the header's; safetensors writes entries sorted by (dtype alignment, name)
    hl = struct.unpack('<Q', open(stp, 'rb').read(8))[0]
    import json
    order = [k for k in json.loads(open(stp, 'rb').read()[8:8 + hl], object_pairs_hook=OrderedDict) if k != '__metadata__']
    write_expected('st', OrderedDict((k, st[k]) for k in order))

    netG, netD, netC, optG, optD = make_dfgan(gen)
    dz = os.path.join(OUT, 'dfgan_state_epoch_3.pth')
    torch.save(dfgan_state(netG, netD, netC, optG, optD, 3), dz)
    torch.save(dfgan_state(netG, netD, netC, optG, optD, 3, ddp=True), os.path.join(OUT, 'dfgan_ddp_legacy.pth'),
               _use_new_zipfile_serialization=False)
    gitems, ditems = dfgan_expected(netG, netD, netC, optG, optD)
    save_npz(os.path.join(OUT, 'dfgan_G.npz'), gitems)
    save_npz(os.path.join(OUT, 'dfgan_D.npz'), ditems)

    n = make_bad(zp, lp, stp, dz, netG, netD, netC, optG, optD)
    size = sum(os.path.getsize(os.path.join(d, f)) for d in (OUT, BAD) for f in os.listdir(d)
               if os.path.isfile(os.path.join(d, f)))
    print('ckpt fixtures: %d tensors in sd, %d in st, G %d / D %d keys, %d bad cases, %d bytes in all'
          % (len(flatten(state)), len(st), len(gitems), len(ditems), n, size))


if __name__ == '__main__':
    main()
