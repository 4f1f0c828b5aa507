#!/usr/bin/env python3
"""node_times.py: time each node function of a generated model.c on its own.

    bench/node_times.py MODEL.c [--cc gcc] [--cflags "-O3 -march=native"] [--rounds 21]

Builds MODEL.c (its model.h beside it) with a main that calls model_run_q once to fill the
arena, then calls each node of model_run_q 100 times in a row per round, and prints the best
round's mean per node in ns. The inputs are fixed pseudo-random bytes, not real data, so
branches on data (a kernel's exact redo near rounding ties) run about as rarely as with real
inputs but not identically. Python standard library only; not a test."""
import argparse
import os
import re
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('--cc', default='gcc')
    ap.add_argument('--cflags', default='-O3 -march=native')
    ap.add_argument('--rounds', type=int, default=21)
    a = ap.parse_args()
    text = open(a.model).read()
    m = re.search(r'int (\w+)_run_q\(([^)]*)\) \{\n(.*?)\n    return 0;', text, re.S)
    if not m:
        sys.exit('node_times.py: no <name>_run_q in ' + a.model)
    name, args, body = m.group(1), m.group(2), m.group(3)
    calls = [l.strip() for l in body.split('\n') if re.match(r'\s*node\d+_', l)]
    params = [p.strip().split()[-1].lstrip('*') for p in args.split(',')]
    c = ['#include <stdio.h>', '#include <time.h>',
         '#include "%s"' % os.path.abspath(a.model),
         'static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); '
         'return t.tv_sec * 1e9 + t.tv_nsec; }',
         'static uint8_t ext[%d] __attribute__((aligned(64)));' % (65536 * (len(params) + 1)),
         'int main(void) {',
         '    uint8_t *qcc_arena = %s_arena;' % name,
         '    unsigned seed = 12345u;',
         '    for (unsigned long i = 0; i < sizeof ext; i++) { seed = seed * 1664525u + '
         '1013904223u; ext[i] = (uint8_t)(seed >> 24); }']
    for i, p in enumerate(params):
        c.append('    uint8_t *%s = ext + %d;' % (p, 65536 * i))
    c.append('    %s_run_q(%s);' % (name, ', '.join('(void *)' + p for p in params)))
    c.append('    double best[%d];' % len(calls))
    c.append('    for (int i = 0; i < %d; i++) best[i] = 1e300;' % len(calls))
    c.append('    for (int r = 0; r < %d; r++) {' % a.rounds)
    for i, call in enumerate(calls):
        c.append('        { double t = now(); for (int k = 0; k < 100; k++) { %s '
                 '__asm__ volatile("" ::: "memory"); } t = (now() - t) / 100; '
                 'if (t < best[%d]) best[%d] = t; }' % (call, i, i))
    c.append('    }')
    c.append('    (void)qcc_arena;')
    for i, call in enumerate(calls):
        c.append('    printf("%%9.0f  %s\\n", best[%d]);' % (call.split('(')[0], i))
    c.append('    return 0;\n}')
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, 'node_times.c'), os.path.join(tmp, 'node_times')
        open(src, 'w').write('\n'.join(c) + '\n')
        cmd = [a.cc] + a.cflags.split() + ['-I', os.path.dirname(os.path.abspath(a.model)),
                                           src, '-o', exe, '-lm']
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            sys.exit('node_times.py: build failed:\n' + r.stderr[:3000])
        print('       ns  node (best of %d rounds of 100 calls)' % a.rounds)
        sys.stdout.write(subprocess.run([exe], capture_output=True, text=True, check=True).stdout)


if __name__ == '__main__':
    main()
