#!/usr/bin/env python3
"""compare.py: compare arrays by relative L2 error; numpy only (the tests' checker).

usage: compare.py ACTUAL EXPECTED [--tol T] [--map A=E]... [--keys REGEX] [--floor F]
                  [--subset] [--loose-shape] [--quiet]

ACTUAL and EXPECTED are each one of
  file.npy        a stream: one or more arrays back to back (one np.save each); '-' = stdin
  file.npz        all its keys
  file.npz:KEY    the one array KEY
  file.npz:GLOB   the keys matching GLOB (with * ? [..]) in natural order (fake.2 < fake.10),
                  taken as a stream
(the kind is told by the file's magic bytes, not its name).

Two streams (npy, npz:KEY, npz:GLOB) are compared array by array, in order; two whole npz
files key by key. For each pair: err = ||a - e|| / max(||e||, floor), in float64. Each pair
is printed with its error, then the maximum. Exit 0 when every err <= tol; exit 1 (naming the
worst key on stderr) when one exceeds tol, is not finite, or when keys, counts or shapes do
not match; exit 2 on usage errors.

Key mapping between two npz files: --map A=E (repeatable) pairs actual key A+rest with
expected key E+rest (the first map whose A prefixes the key; a key no map matches keeps its
name). Every expected key under a mapped E prefix (all expected keys when there is no --map)
must have an actual counterpart, unless --subset. --keys REGEX keeps only the actual keys (and
the expected keys that map to names) that re.search matches.
  compare.py out/D2.npz fixtures/dfgan_eq64/expected.npz --map =D. --tol 1e-3
  compare.py out/fake.npy 'fixtures/dfgan_eq64/expected.npz:fake.*' --tol 1e-4

--loose-shape accepts arrays of equal size but different shapes ((), (1,), (1,1)...).
With no arguments at all it runs its self-test (`make goldens` runs every script here).
"""
import fnmatch
import io
import os
import re
import sys

import numpy as np

PROG = 'compare.py'


class Fail(Exception):
    """Input or comparison error: exit 1."""


class Usage(Exception):
    """Usage error: exit 2."""


def natural_key(s):
    return [int(p) if p.isdigit() else p for p in re.split(r'(\d+)', s)]


def rel_err(a, e, floor=1e-30):
    """||a - e|| / max(||e||, floor) in float64; inf when a is not finite."""
    a = np.asarray(a, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return float('inf')
    return float(np.linalg.norm((a - e).ravel()) / max(np.linalg.norm(e.ravel()), floor))


def read_stream(data, name):
    """All arrays of an npy stream held in bytes."""
    f = io.BytesIO(data)
    out = []
    while f.tell() < len(data):
        try:
            out.append(np.load(f, allow_pickle=False))
        except Exception as ex:  # truncated or not npy
            raise Fail('%s: array %d of the stream: expected an npy array, found %s'
                       % (name, len(out), str(ex).splitlines()[0] if str(ex)
                          else type(ex).__name__))
    if not out:
        raise Fail('%s: expected at least one npy array, found an empty file' % name)
    return out


def load(spec):
    """Returns ('seq', [(name, array)...]) or ('map', {name: array}) (ordered)."""
    path, sel = spec, None
    if spec != '-' and not os.path.exists(spec) and ':' in spec:
        path, sel = spec.rsplit(':', 1)
    if path == '-':
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(path, 'rb') as f:
                data = f.read()
        except OSError as ex:
            raise Fail('%s: expected a readable file, found: %s' % (path, ex.strerror))
    magic = data[:6]
    if magic[:4] == b'PK\x03\x04':
        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as ex:
            raise Fail('%s: expected an npz file, found: %s' % (path, ex))
        with z:
            keys = list(z.files)
            if sel is None:
                return 'map', {k: z[k] for k in keys}
            if sel in keys:
                return 'seq', [(sel, z[sel])]
            if any(c in sel for c in '*?['):
                ks = sorted((k for k in keys if fnmatch.fnmatchcase(k, sel)), key=natural_key)
                if not ks:
                    raise Fail('%s: expected keys matching %r, found none' % (path, sel))
                return 'seq', [(k, z[k]) for k in ks]
            raise Fail('%s: expected key %r, found keys %s'
                       % (path, sel, ', '.join(keys[:8]) + (' ...' if len(keys) > 8 else '')))
    if magic == b'\x93NUMPY':
        if sel is not None:
            raise Usage('%s: a key (%r) only selects inside an npz file' % (path, sel))
        arrs = read_stream(data, path)
        return 'seq', [('[%d]' % i, a) for i, a in enumerate(arrs)]
    raise Fail('%s: expected an npy stream or an npz file, found %s'
               % (path, 'an empty file' if not data else 'magic %r' % magic))


def parse_args(argv):
    opt = dict(tol=1e-4, maps=[], keys=None, floor=1e-30, subset=False, loose=False,
               quiet=False)
    pos = []
    i = 0
    while i < len(argv):
        a = argv[i]

        def val():
            if '=' in a and a.startswith('--') and a.split('=', 1)[0] in (
                    '--tol', '--map', '--keys', '--floor'):
                return a.split('=', 1)[1]
            if i + 1 >= len(argv):
                raise Usage('%s needs a value' % a)
            return argv[i + 1]
        name = a.split('=', 1)[0] if a.startswith('--') else a
        consumed = 1 if '=' in a and a.startswith('--') else 2
        if name in ('-h', '--help'):
            print(__doc__.strip())
            sys.exit(0)
        elif name == '--tol':
            try:
                opt['tol'] = float(val())
            except ValueError:
                raise Usage('--tol: expected a number, found %r' % val())
            i += consumed
        elif name == '--floor':
            try:
                opt['floor'] = float(val())
            except ValueError:
                raise Usage('--floor: expected a number, found %r' % val())
            i += consumed
        elif name == '--map':
            m = val()
            if '=' not in m:
                raise Usage('--map: expected ACTUAL_PREFIX=EXPECTED_PREFIX, found %r' % m)
            opt['maps'].append(tuple(m.split('=', 1)))
            i += consumed
        elif name == '--keys':
            try:
                opt['keys'] = re.compile(val())
            except re.error as ex:
                raise Usage('--keys: bad regex %r: %s' % (val(), ex))
            i += consumed
        elif name == '--subset':
            opt['subset'] = True
            i += 1
        elif name == '--loose-shape':
            opt['loose'] = True
            i += 1
        elif name in ('-q', '--quiet'):
            opt['quiet'] = True
            i += 1
        elif a.startswith('--') or (a.startswith('-') and a != '-'):
            raise Usage('unknown option %r (see --help)' % a)
        else:
            pos.append(a)
            i += 1
    if len(pos) != 2:
        raise Usage('expected ACTUAL and EXPECTED, found %d operand(s) (see --help)' % len(pos))
    return pos, opt


def pair_up(act, exp, opt):
    """List of (label, actual array, expected array); raises Fail on key/count mismatch."""
    (ka, a), (ke, e) = act, exp
    if ka == 'seq' and ke == 'seq':
        if len(a) != len(e):
            raise Fail('expected %d arrays (%s ...), found %d in the actual stream'
                       % (len(e), e[0][0], len(a)))
        return [(na if na == ne else '%s~%s' % (na, ne), x, y)
                for (na, x), (ne, y) in zip(a, e)]
    if ka == 'map' and ke == 'map':
        keysel = opt['keys']
        pairs, missing = [], []
        used = set()
        for k, x in a.items():
            if keysel is not None and not keysel.search(k):
                continue
            ek = k
            for pa, pe in opt['maps']:
                if k.startswith(pa):
                    ek = pe + k[len(pa):]
                    break
            if ek not in e:
                missing.append('%s (as %s)' % (k, ek) if ek != k else k)
                continue
            used.add(ek)
            pairs.append((k if ek == k else '%s~%s' % (k, ek), x, e[ek]))
        if missing:
            raise Fail('actual keys not in expected: %s' % ', '.join(missing[:6]) +
                       (' ... (%d in all)' % len(missing) if len(missing) > 6 else ''))
        if not opt['subset']:
            lack = []
            for ek in e:
                if ek in used:
                    continue
                if opt['maps']:
                    hit = [(pa, pe) for pa, pe in opt['maps'] if ek.startswith(pe)]
                    if not hit:
                        continue
                    pa, pe = hit[0]
                    ak = pa + ek[len(pe):]
                else:
                    ak = ek
                if keysel is not None and not keysel.search(ak):
                    continue
                lack.append(ek)
            if lack:
                raise Fail('expected keys missing from the actual file: %s' % ', '.join(lack[:6]) +
                           (' ... (%d in all)' % len(lack) if len(lack) > 6 else ''))
        if not pairs:
            raise Fail('no keys to compare (check --keys / --map)')
        return pairs
    raise Usage('cannot pair a whole npz file with a stream; select keys with file.npz:KEY '
                'or file.npz:GLOB')


def compare(actual, expected, opt, out=sys.stdout):
    pairs = pair_up(load(actual), load(expected), opt)
    worst, worst_err, bad = None, -1.0, []
    for label, a, e in pairs:
        if a.shape != e.shape and not (opt['loose'] and a.size == e.size):
            bad.append('%s: expected shape %s, found %s' % (label, e.shape, a.shape))
            print('  %-12s %s  shape %s != expected %s' % ('SHAPE', label, a.shape, e.shape),
                  file=out)
            continue
        for arr in (a, e):
            if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
                raise Fail('%s: expected a numeric array, found dtype %s' % (label, arr.dtype))
        err = rel_err(a.reshape(e.shape), e, opt['floor'])
        if not opt['quiet'] or err > opt['tol']:
            print('  %-12.3e %s %s%s' % (err, label, tuple(e.shape),
                                        '  > tol' if not err <= opt['tol'] else ''), file=out)
        if not err <= worst_err:  # catches nan/inf too
            worst, worst_err = label, err
    print('max rel err %.3e at %s over %d arrays (tol %g)'
          % (worst_err, worst, len(pairs), opt['tol']), file=out)
    if bad:
        raise Fail('%d shape mismatch(es), first: %s' % (len(bad), bad[0]))
    if not worst_err <= opt['tol']:
        raise Fail('%s: rel err %.3e exceeds tol %g' % (worst, worst_err, opt['tol']))
    return worst_err


def self_test():
    import tempfile
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        p = lambda n: os.path.join(d, n)
        x = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
        with open(p('s.npy'), 'wb') as f:
            for a in x:
                np.save(f, a)
        np.savez(p('e.npz'), **{'fake.%d' % i: a for i, a in enumerate(x)},
                 **{'D.w': x[0], 'D.b': x[1], 'other': x[2]})
        np.savez(p('a.npz'), w=x[0] * (1 + 1e-6), b=x[1])
        q = dict(tol=1e-4, maps=[], keys=None, floor=1e-30, subset=False, loose=False,
                 quiet=True)
        sink = io.StringIO()
        assert compare(p('s.npy'), p('e.npz') + ':fake.*', q, sink) == 0
        assert compare(p('a.npz'), p('e.npz'), dict(q, maps=[('', 'D.')]), sink) < 1e-5
        for spec, o in ((p('a.npz'), dict(q, maps=[('', 'D.')], tol=1e-8)),   # tolerance
                        (p('a.npz'), q),                                      # keys differ
                        (p('s.npy'), None)):                                  # count
            try:
                if o is None:
                    compare(spec, p('e.npz') + ':fake.[01]', q, sink)
                else:
                    compare(spec, p('e.npz'), o, sink)
            except Fail:
                continue
            raise AssertionError('self-test: a mismatch was not caught (%s)' % spec)
        with open(p('t.npy'), 'wb') as f:   # truncated stream
            f.write(open(p('s.npy'), 'rb').read()[:-5])
        try:
            compare(p('t.npy'), p('s.npy'), q, sink)
            raise AssertionError('self-test: truncated stream not caught')
        except Fail:
            pass
    print('%s: self-test ok' % PROG)


def main(argv):
    if not argv:
        self_test()
        return 0
    try:
        pos, opt = parse_args(argv)
        compare(pos[0], pos[1], opt)
        return 0
    except Usage as ex:
        print('%s: %s' % (PROG, ex), file=sys.stderr)
        return 2
    except Fail as ex:
        print('%s: FAIL: %s' % (PROG, ex), file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
