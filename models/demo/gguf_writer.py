"""A small GGUF v3 writer for Python scripts that make model files.

Metadata values of every GGUF type (scalars, strings, arrays) and tensors at
F32, F16 or Q8_0 (ggml block layout: fp16 scale d = amax / 127 and 32 int8
q = round(x / d)). Tensor data is aligned to general.alignment (32) and the
last tensor is padded like llama.cpp's writer. Needs only numpy.
"""

import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# metadata value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, \
    FLOAT64 = range(13)
_SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
               FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}
_NP_DTYPE = {UINT8: "<u1", INT8: "<i1", UINT16: "<u2", INT16: "<i2", UINT32: "<u4",
             INT32: "<i4", FLOAT32: "<f4", BOOL: "<u1", UINT64: "<u8", INT64: "<i8",
             FLOAT64: "<f8"}

# tensor types (ggml numbering)
TYPE_F32, TYPE_F16, TYPE_Q4_0, TYPE_Q8_0 = 0, 1, 2, 8
QK8_0 = 32


def _str(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


def quantize_q8_0(x):
    """Rows of float32 -> bytes of ggml Q8_0 blocks (the reference quantizer:
    id = 1/d computed from the unrounded d, q = roundf(x * id))."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK8_0)
    amax = np.abs(x).max(axis=1, keepdims=True)
    d = (amax / np.float32(127.0)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1.0) / d, np.float32(0.0)).astype(np.float32)
    v = (x * inv).astype(np.float32)
    q = (np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))).clip(-127, 127).astype(np.int8)
    blocks = np.empty(x.shape[0], dtype=[("d", "<f2"), ("qs", "i1", (QK8_0,))])
    blocks["d"] = d[:, 0].astype(np.float16)
    blocks["qs"] = q
    return blocks.tobytes()


def dequantize_q8_0(raw, shape):
    """Q8_0 bytes -> float32 array of the given (numpy) shape."""
    blocks = np.frombuffer(raw, dtype=[("d", "<f2"), ("qs", "i1", (QK8_0,))])
    x = blocks["qs"].astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return x.reshape(shape)


class GGUFWriter:
    """Collects metadata and tensors, then write(path) emits the file.
    Keys keep their insertion order; a key or tensor name given twice is an
    error."""

    def __init__(self):
        self.kv = []        # (key, encoded type+value)
        self.tensors = []   # (name, ne list, type, bytes)
        self._names = set()

    def _add(self, key, payload):
        if key in self._names:
            raise ValueError("duplicate key %r" % key)
        self._names.add(key)
        self.kv.append((key, payload))

    def add_scalar(self, key, vtype, value):
        self._add(key, struct.pack("<I", vtype) + struct.pack(_SCALAR_FMT[vtype], value))

    def add_u32(self, key, v):
        self.add_scalar(key, UINT32, v)

    def add_i32(self, key, v):
        self.add_scalar(key, INT32, v)

    def add_f32(self, key, v):
        self.add_scalar(key, FLOAT32, v)

    def add_bool(self, key, v):
        self.add_scalar(key, BOOL, bool(v))

    def add_str(self, key, s):
        self._add(key, struct.pack("<I", STRING) + _str(s))

    def add_array(self, key, etype, values):
        """values: a list of str for STRING, else anything numpy can convert."""
        head = struct.pack("<IIQ", ARRAY, etype, len(values))
        if etype == STRING:
            body = b"".join(_str(s) for s in values)
        else:
            body = np.asarray(values).astype(_NP_DTYPE[etype]).tobytes()
        self._add(key, head + body)

    def add_tensor(self, name, array, ttype=TYPE_F32):
        """array: numpy, C order; its shape is reversed into ggml's ne (a
        PyTorch Linear weight [out, in] becomes ne = [in, out])."""
        a = np.ascontiguousarray(array, dtype=np.float32)
        ne = list(reversed(a.shape))
        if ttype == TYPE_F32:
            raw = a.tobytes()
        elif ttype == TYPE_F16:
            raw = a.astype(np.float16).tobytes()
        elif ttype == TYPE_Q8_0:
            if ne[0] % QK8_0:
                raise ValueError("%s: ne[0]=%d not a multiple of 32" % (name, ne[0]))
            raw = quantize_q8_0(a)
        else:
            raise ValueError("unsupported tensor type %d" % ttype)
        self.add_tensor_bytes(name, ne, ttype, raw)

    def add_tensor_bytes(self, name, ne, ttype, raw):
        """A tensor already encoded: ne in ggml order (innermost first), raw
        its bytes in the layout of ttype (any ggml type; not checked)."""
        if "tensor:" + name in self._names:
            raise ValueError("duplicate tensor %r" % name)
        self._names.add("tensor:" + name)
        self.tensors.append((name, list(ne), ttype, bytes(raw)))

    def write(self, path):
        def pad(n):
            return (ALIGNMENT - n % ALIGNMENT) % ALIGNMENT

        out = bytearray()
        out += GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))
        for key, payload in self.kv:
            out += _str(key) + payload
        offset = 0
        for name, ne, ttype, raw in self.tensors:
            out += _str(name) + struct.pack("<I", len(ne))
            out += struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", ttype, offset)
            offset += len(raw) + pad(len(raw))
        out += b"\0" * pad(len(out))
        for _, _, _, raw in self.tensors:
            out += raw + b"\0" * pad(len(raw))
        with open(path, "wb") as f:
            f.write(out)
        return len(out)
