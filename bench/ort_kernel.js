#!/usr/bin/env node
'use strict';
// bench/ort_kernel.js: ONNX Runtime's own per-op kernel time of one model, as a MEDIAN over runs.
//
//   node bench/ort_kernel.js MODEL.onnx PEERS_DIR [--runs 300] [--warmup 50]
//
// ../shared/peers/ort_bench.js --profile reports each op's kernel time as a mean over all runs,
// which a single preempted run on a shared machine inflates tenfold; here every profiled run's
// "*_kernel_time" events are attributed to the model_run event that contains them, summed per op,
// and the median over runs is printed as JSON {model_run_us, kernel_us: {op: us}}. Uses the
// peers' ortlib.js in place (loading ORT, session options); random uint8/int8/float inputs.
const fs = require('fs');
const os = require('os');
const path = require('path');

function median(v) {
  const s = Float64Array.from(v).sort();
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length < 2) {
    console.error('usage: node bench/ort_kernel.js MODEL.onnx PEERS_DIR [--runs N] [--warmup N]');
    process.exit(2);
  }
  const [model, peers] = argv;
  const { loadOrt, sessionOptions, parseArgs, DTYPES } = require(path.resolve(peers, 'ortlib.js'));
  const { kw } = parseArgs(argv.slice(2), []);
  const runs = parseInt(kw.runs || '300', 10);
  const warmup = parseInt(kw.warmup || '50', 10);
  const ort = loadOrt();
  const prefix = path.join(os.tmpdir(), 'qcc_bench_prof_' + process.pid);
  const session = await ort.InferenceSession.create(model,
    sessionOptions({ opt: 'all', threads: 1, profilePrefix: prefix }));
  const feeds = {};
  let seed = 12345;
  for (const meta of session.inputMetadata) {
    const shape = meta.shape.map(d => (typeof d === 'number' && d > 0 ? d : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new DTYPES[meta.type][0](n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      data[i] = meta.type.startsWith('float') ? seed / 0x7fffffff * 2 - 1
        : meta.type === 'int8' ? (seed >> 23) - 128 : seed >> 23;
    }
    feeds[meta.name] = new ort.Tensor(meta.type, data, shape);
  }
  for (let i = 0; i < warmup + runs; i++) await session.run(feeds);
  session.endProfiling();
  const dir = path.dirname(prefix);
  const files = fs.readdirSync(dir).filter(f => f.startsWith(path.basename(prefix)) && f.endsWith('.json'));
  if (!files.length) throw new Error('ORT wrote no profile');
  const ev = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  for (const f of files) fs.unlinkSync(path.join(dir, f));
  const mr = ev.filter(e => e.cat === 'Session' && e.name === 'model_run').slice(-runs);
  const nodes = ev.filter(e => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  const perOp = {};   // op -> per-run sums
  mr.forEach((m, r) => {
    for (const e of nodes) {
      if (e.ts < m.ts || e.ts > m.ts + m.dur) continue;
      const op = e.args && e.args.op_name ? e.args.op_name : '?';
      (perOp[op] = perOp[op] || new Array(mr.length).fill(0))[r] += e.dur;
    }
  });
  const kernel = {};
  for (const [op, v] of Object.entries(perOp)) kernel[op] = median(v);
  console.log(JSON.stringify({ model, runs: mr.length, model_run_us: median(mr.map(m => m.dur)), kernel_us: kernel }));
  if (session.release) await session.release();
}

main().catch(e => { console.error('ort_kernel: ' + (e && e.stack || e)); process.exit(1); });
