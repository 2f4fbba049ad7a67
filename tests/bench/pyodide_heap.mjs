// Pyodide's heap (it never shrinks: its peak is what the tab keeps) after each pipeline step,
// in Node, with the numpy/Pillow wheels and offcut.zip of a built dist/. The model's output is
// a stand-in disc, so no onnxruntime is needed. Run by pyodide_heap.py.
//   node tests/bench/pyodide_heap.mjs DIST PHOTO RECORD_JSON [ZIP]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [dist, photo, record, zip] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(`${dist}/pyodide/pyodide.mjs`).href);
const py = await loadPyodide({ indexURL: `${dist}/pyodide/`, stdLibURL: `${dist}/py/stdlib.zip` });
// The wheels unpacked as web/worker.js unpacks them: compiled modules load when imported.
const lock = JSON.parse(readFileSync(`${dist}/pyodide/pyodide-lock.json`, 'utf8'));
const site = py.runPython("import site; site.getsitepackages()[0]");
for (const name of ['numpy', 'pillow']) {
  const wheel = new Uint8Array(readFileSync(`${dist}/pyodide/${lock.packages[name].file_name}`));
  py.unpackArchive(wheel.buffer, 'wheel', { extractDir: site });
}
py.unpackArchive(new Uint8Array(readFileSync(zip || `${dist}/py/offcut.zip`)), 'zip',
  { extractDir: '/home/pyodide/offcut-py' });
py.FS.writeFile('/tmp/photo', new Uint8Array(readFileSync(photo)));
py.FS.writeFile('/tmp/record.json', readFileSync(record, 'utf8'));
globalThis.heapMiB = () => py._module.HEAPU8.length / 2 ** 20;
console.log(JSON.stringify({ step: 'boot', heap: heapMiB(), seconds: 0 }));
await py.runPythonAsync(`
import json, sys, time
sys.path.insert(0, '/home/pyodide/offcut-py')
import numpy as np
from js import heapMiB
from offcut import pipeline
from offcut.records import ModelRecord

record = ModelRecord.from_dict(json.load(open('/tmp/record.json')))
data = open('/tmp/photo', 'rb').read()

def step(name, t0):
    print(json.dumps({'step': name, 'heap': heapMiB(), 'seconds': time.perf_counter() - t0}))

t0 = time.perf_counter(); job = pipeline.start(data, record); step('start', t0)
side = record.size
yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
disc = (((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.1).astype(np.float32)
output = np.ascontiguousarray(np.repeat(disc[None, None], job.model_input.shape[0], 0)).reshape(-1)
t0 = time.perf_counter(); cutout = pipeline.complete(job, output); del job; step('complete', t0)
t0 = time.perf_counter(); shown = pipeline.preview(cutout, max_side=1280); del shown; step('preview', t0)
t0 = time.perf_counter(); pipeline.render(cutout); step('render (download)', t0)
white = pipeline.ExportOptions(background='white', fmt='jpeg')
t0 = time.perf_counter(); pipeline.render(cutout, white); step('render (JPEG on white)', t0)
`);
