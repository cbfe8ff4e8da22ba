"""Trial quantization in vectorised numpy, the comparison side of quant_bench.

Usage: quant_bench.py WEIGHTS.npy RUNS CONFIG...

WEIGHTS.npy is a float32 MatMul B weight [K, N] (channel axis 1, group
axis 0).  For each CONFIG (int8:tensor:sym, int8:channel:sym,
int4:g128:asym, nf4:b64) this quantizes the weight with the arithmetic
qscope defines (float32 scale, asym range in float64, fp16 scales rounded
up, code = rint(w * (1 / scale)), round half to even), measures MSE, SQNR
and max absolute error in float64, and prints one line per CONFIG:

    CONFIG WALL_GB_PER_S CPU_GB_PER_S MSE SQNR_DB MAX_ABS_ERR

The rates are the float32 input size over the median wall-clock time and
the median CPU time of RUNS runs.
"""

import sys
import time

import numpy as np

F32 = np.float32
FLT_MIN = np.finfo(np.float32).tiny

# QLoRA's NormalFloat levels as bitsandbytes lists them (get_4bit_type("nf4")).
NF4_LEVELS = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
    0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0], dtype=F32)
NF4_MID = (NF4_LEVELS[:-1] + NF4_LEVELS[1:]) / F32(2)


def half_up(scale):
    """The smallest fp16 value >= each float32 scale (0 < scale <= 65504)."""
    half = scale.astype(np.float16)
    half = np.where(half.astype(F32) < scale, np.nextafter(half, np.float16(np.inf)), half)
    return half.astype(F32)


def finish_scale(scale, fp16):
    """Apply qscope's scale rules: flag scales below FLT_MIN, round fp16 scales up."""
    scale = np.minimum(scale, np.finfo(np.float32).max)
    flagged = ~(scale >= FLT_MIN)
    if fp16:
        scale = half_up(np.where(flagged, F32(1), np.minimum(scale, F32(65504))))
    scale = np.where(flagged, F32(1), scale)
    inv = np.where(flagged, F32(0), F32(1) / scale)
    return scale, inv


def int_sym(w, absmax, bits):
    qmax = F32(2 ** (bits - 1) - 1)
    scale, inv = finish_scale(absmax / qmax, fp16=False)
    q = np.clip(np.rint(w * inv), -qmax, qmax)
    return q * scale


def int8_tensor(w):
    return int_sym(w, np.abs(w).max(), 8)


def int8_channel(w):
    return int_sym(w, np.abs(w).max(axis=0), 8)


def int4_g128(w):
    k, n = w.shape
    g = w.reshape(k // 128, 128, n)
    lo = np.minimum(g.min(axis=1, keepdims=True), F32(0))
    hi = np.maximum(g.max(axis=1, keepdims=True), F32(0))
    # The range is taken in float64, where hi - lo cannot overflow.
    scale = ((hi.astype(np.float64) - lo.astype(np.float64)) / 15.0).astype(F32)
    scale, inv = finish_scale(scale, fp16=True)
    zero = np.clip(np.rint(-lo / scale), F32(0), F32(15))
    zero = np.where(inv == 0, F32(0), zero)
    q = np.clip(np.rint(g * inv) + zero, F32(0), F32(15))
    return ((q - zero) * scale).reshape(k, n)


def nf4_b64(w):
    k, n = w.shape
    g = w.reshape(k // 64, 64, n)
    scale, inv = finish_scale(np.abs(g).max(axis=1, keepdims=True), fp16=False)
    # Level index = number of midpoints strictly below w * inv.
    index = np.searchsorted(NF4_MID, g * inv, side="left")
    return (NF4_LEVELS[index] * scale).reshape(k, n)


QUANTIZERS = {
    "int8:tensor:sym": int8_tensor,
    "int8:channel:sym": int8_channel,
    "int4:g128:asym": int4_g128,
    "nf4:b64": nf4_b64,
}


def trial(w, quantize):
    """Quantize and measure, as one qscope trial does."""
    deq = quantize(w)
    x = w.astype(np.float64)
    err = x - deq.astype(np.float64)
    sse = float(np.dot(err.ravel(), err.ravel()))
    energy = float(np.dot(x.ravel(), x.ravel()))
    mse = sse / w.size
    sqnr = float("inf") if sse == 0 else 10 * np.log10(energy / sse)
    return mse, sqnr, float(np.abs(err).max())


def median(values):
    return sorted(values)[len(values) // 2]


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    w = np.load(argv[1])
    runs = int(argv[2])
    for config in argv[3:]:
        quantize = QUANTIZERS.get(config)
        if quantize is None:
            sys.stderr.write("quant_bench.py: unknown configuration %s\n" % config)
            return 2
        wall, cpu = [], []
        for _ in range(runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            mse, sqnr, max_err = trial(w, quantize)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        print("%s %.6f %.6f %.17g %.17g %.9g" % (config, w.nbytes / median(wall) / 1e9,
                                                 w.nbytes / median(cpu) / 1e9, mse, sqnr, max_err))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
