// onnxruntime side of the interpreter benchmark: time InferenceSession.run
// on one model and one .npy input, the way bench/interp_bench.c times
// qs_interp_run, and write output 0 to a .npy file for the comparison.
//
// Usage: node interp_bench_ort.mjs [OPTIONS] MODEL INPUT.npy
//   --ort-dir DIR    folder whose node_modules contains onnxruntime-node (required)
//   --threads N      intra_op_num_threads (default 1)
//   --opt LEVEL      graph optimizations: all, extended, basic or disabled (default all)
//   --warmup N       untimed runs before the timed ones (default 3)
//   --runs N         timed runs (default 10)
//   --output FILE    write output 0 there as float32 .npy
//
// Sessions use sequential execution with inter_op_num_threads 1 and the
// CPU execution provider.  Prints "KEY VALUE" lines like interp_bench:
// version, threads, runs, first_ms (session creation excluded),
// median_ms, min_ms, cpu_ms (median CPU time of the process per run,
// which includes the spinning of onnxruntime's idle worker threads).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const USAGE = 'usage: node interp_bench_ort.mjs --ort-dir DIR [--threads N] [--opt LEVEL] ' +
    '[--warmup N] [--runs N] [--output FILE] MODEL INPUT.npy';
const OPT_LEVELS = ['all', 'extended', 'basic', 'disabled'];

function fail(message, status = 1) {
    process.stderr.write(`interp_bench_ort: ${message}\n`);
    process.exit(status);
}

function parseCount(name, text, min) {
    const v = Number(text);
    if (!Number.isInteger(v) || v < min)
        fail(`invalid value for ${name}: ${text}`, 2);
    return v;
}

function parseArgs(argv) {
    const args = { threads: 1, opt: 'all', warmup: 3, runs: 10, output: null, ortDir: null };
    const positional = [];

    for (let i = 0; i < argv.length; i++) {
        const name = argv[i];
        if (!name.startsWith('--')) {
            positional.push(name);
            continue;
        }
        if (i + 1 >= argv.length)
            fail(`missing value for ${name}`, 2);
        const value = argv[++i];
        if (name === '--threads') args.threads = parseCount(name, value, 1);
        else if (name === '--warmup') args.warmup = parseCount(name, value, 0);
        else if (name === '--runs') args.runs = parseCount(name, value, 1);
        else if (name === '--output') args.output = value;
        else if (name === '--ort-dir') args.ortDir = value;
        else if (name === '--opt' && OPT_LEVELS.includes(value)) args.opt = value;
        else fail(`invalid option or value: ${name} ${value}`, 2);
    }
    if (positional.length !== 2 || !args.ortDir)
        fail(USAGE, 2);
    [args.model, args.input] = positional;
    return args;
}

// Read a little-endian float32 C-order .npy file (format versions 1 to 3).
function readNpy(file) {
    const bytes = readFileSync(file);
    if (bytes.length < 10 || bytes.toString('latin1', 0, 6) !== '\x93NUMPY')
        fail(`${file}: not a .npy file`);
    const major = bytes[6];
    const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
    const start = (major === 1 ? 10 : 12) + headerLen;
    const header = bytes.toString('latin1', major === 1 ? 10 : 12, start);
    const descr = /'descr':\s*'([^']*)'/.exec(header);
    const order = /'fortran_order':\s*(True|False)/.exec(header);
    const shape = /'shape':\s*\(([^)]*)\)/.exec(header);

    if (!descr || descr[1] !== '<f4' || !order || order[1] !== 'False' || !shape)
        fail(`${file}: only little-endian float32 C-order .npy files are read (header ${header.trim()})`);
    const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
    const count = dims.reduce((a, b) => a * b, 1);
    if (bytes.length - start !== count * 4)
        fail(`${file}: ${bytes.length - start} data bytes, ${count * 4} expected for shape (${dims})`);
    // Copy so that the data is 4-byte aligned whatever the header length.
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(start));
    return { dims, data };
}

// Write "data" with shape "dims" as a version 1 .npy file.
function writeNpy(file, dims, data) {
    const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
    // The magic, version and length take 10 bytes; the header ends in '\n'
    // and the data starts on a multiple of 64 bytes.
    header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
    const prefix = Buffer.alloc(10);
    prefix.write('\x93NUMPY', 0, 'latin1');
    prefix[6] = 1;
    prefix[7] = 0;
    prefix.writeUInt16LE(header.length, 8);
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]));
}

function median(values) {
    const v = [...values].sort((a, b) => a - b);
    const n = v.length;
    return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const require = createRequire(path.resolve(args.ortDir) + path.sep);
    const ort = require('onnxruntime-node');
    const input = readNpy(args.input);
    const session = await ort.InferenceSession.create(args.model, {
        executionProviders: ['cpu'],
        intraOpNumThreads: args.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: args.opt,
    });

    if (session.inputNames.length !== 1)
        fail(`${args.model}: ${session.inputNames.length} inputs, only models with one are run`);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.dims) };
    const times = [];
    const cpu = [];
    let first = 0;
    let result = null;
    for (let r = 0; r < args.warmup + args.runs; r++) {
        const start = process.hrtime.bigint();
        const cpuStart = process.cpuUsage();
        result = await session.run(feeds);
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        const used = process.cpuUsage(cpuStart);
        if (r === 0) first = ms;
        if (r >= args.warmup) {
            times.push(ms);
            cpu.push((used.user + used.system) / 1e3);
        }
    }

    const out = result[session.outputNames[0]];
    if (args.output) {
        if (out.type !== 'float32')
            fail(`output 0 is ${out.type}, only float32 outputs are written`);
        writeNpy(args.output, out.dims, out.data);
    }
    console.log(`version ${ort.env.versions.node ?? ort.env.versions.common}`);
    console.log(`threads ${args.threads}`);
    console.log(`runs ${args.runs}`);
    console.log(`first_ms ${first.toFixed(3)}`);
    console.log(`median_ms ${median(times).toFixed(3)}`);
    console.log(`min_ms ${Math.min(...times).toFixed(3)}`);
    console.log(`cpu_ms ${median(cpu).toFixed(3)}`);
    await session.release();
}

main().catch((err) => fail(err.message ?? String(err)));
