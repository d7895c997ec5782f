// The fixed parts of the generated PyTorch program: safetensors reader/writer, MNIST idx loader,
// the Keras-semantics modules, the distributed setup and the global-batch sampler. Python source
// as text; nothing here depends on the model.

export const PY_SAFETENSORS = `# ---------------------------------------------------------------- safetensors
# An 8-byte little-endian header length N, N bytes of JSON ({name: {dtype, shape, data_offsets}},
# "__metadata__"), then the tensors' bytes. Names and layouts are model.json's (Keras's).

_ST_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    """The tensors of a safetensors file, by name (float32)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: not a safetensors file (header length {n} exceeds the file)")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, not one of {', '.join(_ST_DTYPES)}")
        begin, end = info["data_offsets"]
        if base + end > len(raw):
            raise ValueError(f"{path}: tensor {name} runs past the end of the file (truncated?)")
        dtype = _ST_DTYPES[info["dtype"]]
        data = bytearray(raw[base + begin : base + end])
        t = torch.frombuffer(data, dtype=dtype) if len(data) > 0 else torch.zeros(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).to(torch.float32)
    return out


def write_atomic(path, data):
    """Writes bytes to a temporary name beside path, then renames it: never a half-written file."""
    tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"  # the name nnc removes after an interrupted run
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} as float32 safetensors (header padded to 8 bytes), atomically."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        b = t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text.encode("utf-8"))) % 8) % 8)
    head = text.encode("utf-8")
    write_atomic(path, struct.pack("<Q", len(head)) + head + b"".join(blobs))
`;

export const PY_DATA = `# ---------------------------------------------------------------- data
# The MNIST / Fashion-MNIST idx files (gzipped or not), looked for as nnc looks for them: --data DIR
# (or DIR/<dataset>), else $NNC_DATA (or $NNC_DATA/<dataset>), the cache dir nnc downloads into
# ($XDG_CACHE_HOME or ~/.cache)/nnc/<dataset>, and Debian's /usr/share/datasets/fashion-mnist.

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _idx_path(folder, name):
    for candidate in (os.path.join(folder, name), os.path.join(folder, name + ".gz")):
        if os.path.isfile(candidate):
            return candidate
    return None


def find_data_dir(data, dataset):
    names = IDX_FILES["train"] + IDX_FILES["test"]
    if data is not None:
        folders = [data, os.path.join(data, dataset)]
    else:
        folders = []
        env = os.environ.get("NNC_DATA")
        if env:
            folders += [env, os.path.join(env, dataset)]
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folders.append(os.path.join(cache, "nnc", dataset))
        if dataset == "fashion_mnist":
            folders.append("/usr/share/datasets/fashion-mnist")
    for folder in folders:
        if all(_idx_path(folder, n) is not None for n in names):
            return folder
    raise SystemExit(
        f"{dataset}: the idx files ({', '.join(names)}, gzipped or not) were not found in "
        + ", ".join(folders)
        + "; pass --data DIR or set $NNC_DATA (\`nnc run\` downloads them into the cache dir)"
    )


def read_idx(path, magic_expected, limit):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\\x1f\\x8b":
        raw = gzip.decompress(raw)
    dims = 3 if magic_expected == 0x803 else 1
    if len(raw) < 4 + 4 * dims:
        raise SystemExit(f"{path} is truncated: {len(raw)} bytes, shorter than its idx header")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != magic_expected:
        raise SystemExit(f"{path} is not an idx{dims} file: magic number 0x{magic:08x}, expected 0x{magic_expected:08x}")
    shape = list(struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims]))
    size = 1
    for d in shape:
        size *= d
    start = 4 + 4 * dims
    if len(raw) < start + size:
        raise SystemExit(f"{path} is truncated: {len(raw) - start} data bytes, expected {size}")
    if limit is not None and limit < shape[0]:
        size = size // shape[0] * limit
        shape[0] = limit
    return torch.frombuffer(bytearray(raw[start : start + size]), dtype=torch.uint8).reshape(shape)


def load_split(folder, split, limit):
    """(pixels uint8 [n, 28, 28], labels int64 [n]) of one split."""
    images, labels = IDX_FILES[split]
    pixels = read_idx(_idx_path(folder, images), 0x803, limit)
    y = read_idx(_idx_path(folder, labels), 0x801, limit).long()
    if y.shape[0] != pixels.shape[0]:
        raise SystemExit(f"{folder}: {split} has {pixels.shape[0]} images but {y.shape[0]} labels")
    if y.numel() > 0 and int(y.max()) >= CLASSES:
        raise SystemExit(f"{folder}: {split} has label {int(y.max())}, but the model has {CLASSES} classes")
    return pixels, y


def batch_of(pixels, labels, index, device, augment_with=None):
    """Examples pixels[index] as floats in [0, 1] shaped EXAMPLE_SHAPE (NHWC for images), one-hot labels;
    augmented on the fly (the data section's augment) when given a generator."""
    x = pixels[index].to(device=device, dtype=torch.float32).div_(255.0)
    if augment_with is not None:
        x = augment(x.unsqueeze(-1), random_affine(x.shape[0], augment_with))
    x = x.reshape(-1, *EXAMPLE_SHAPE)
    y = F.one_hot(labels[index].to(device), CLASSES).to(torch.float32)
    return x, y
`;

export const PY_MODULES = `# ---------------------------------------------------------------- Keras layers in PyTorch
# Weights keep Keras's layouts (dense [in, out], conv2d [kh, kw, in, out]); images run as NCHW.


class Dense(nn.Module):
    """keras Dense: y = x @ kernel + bias, kernel [in, out]."""

    def __init__(self, inputs, units, bias=True):
        super().__init__()
        self.kernel = nn.Parameter(torch.zeros(inputs, units))
        if bias:
            self.bias = nn.Parameter(torch.zeros(units))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return x @ self.kernel if self.bias is None else torch.addmm(self.bias, x, self.kernel)


class Conv2D(nn.Module):
    """keras Conv2D on NCHW: kernel [kh, kw, in, out]; \`same\` padding as TensorFlow pads (the odd pixel after)."""

    def __init__(self, channels, filters, kernel_size, strides, pads, bias=True):
        super().__init__()
        self.kernel = nn.Parameter(torch.zeros(kernel_size[0], kernel_size[1], channels, filters))
        if bias:
            self.bias = nn.Parameter(torch.zeros(filters))
        else:
            self.register_parameter("bias", None)
        self.strides = strides
        self.pads = pads

    def forward(self, x):
        if self.pads is not None:
            x = F.pad(x, self.pads)
        return F.conv2d(x, self.kernel.permute(3, 2, 0, 1), self.bias, self.strides)


class MaxPool2D(nn.Module):
    """keras MaxPooling2D on NCHW; \`same\` pads with -inf, so padding never wins."""

    def __init__(self, pool_size, strides, pads):
        super().__init__()
        self.pool_size, self.strides, self.pads = pool_size, strides, pads

    def forward(self, x):
        if self.pads is not None:
            x = F.pad(x, self.pads, value=float("-inf"))
        return F.max_pool2d(x, self.pool_size, self.strides)


class AvgPool2D(nn.Module):
    """keras AveragePooling2D on NCHW; with \`same\` each window averages only the values inside the image."""

    def __init__(self, pool_size, strides, pads):
        super().__init__()
        self.pool_size, self.strides, self.pads = pool_size, strides, pads

    def forward(self, x):
        if self.pads is None:
            return F.avg_pool2d(x, self.pool_size, self.strides)
        total = F.avg_pool2d(F.pad(x, self.pads), self.pool_size, self.strides)
        inside = F.avg_pool2d(F.pad(torch.ones_like(x[:1, :1]), self.pads), self.pool_size, self.strides)
        return total / inside


class BatchNorm(nn.Module):
    """keras BatchNormalization over the channel axis: batch statistics (biased variance) in training,
    the moving ones at inference; moving = moving * momentum + batch * (1 - momentum). (PyTorch's
    nn.BatchNorm would take momentum 1 - keras momentum and average the unbiased variance.)"""

    def __init__(self, channels, axis, rank, momentum, epsilon, center, scale):
        super().__init__()
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon
        self.view = [1] * rank
        self.view[axis] = channels
        self.dims = [d for d in range(rank) if d != axis]
        if scale:
            self.gamma = nn.Parameter(torch.ones(channels))
        else:
            self.register_parameter("gamma", None)
        if center:
            self.beta = nn.Parameter(torch.zeros(channels))
        else:
            self.register_parameter("beta", None)
        self.register_buffer("moving_mean", torch.zeros(channels))
        self.register_buffer("moving_variance", torch.ones(channels))

    def forward(self, x):
        if self.training:
            mean = x.mean(dim=self.dims)
            variance = x.var(dim=self.dims, unbiased=False)
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_(mean.detach() * (1 - self.momentum))
                self.moving_variance.mul_(self.momentum).add_(variance.detach() * (1 - self.momentum))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        y = (x - mean.view(self.view)) * torch.rsqrt(variance.view(self.view) + self.epsilon)
        if self.gamma is not None:
            y = y * self.gamma.view(self.view)
        if self.beta is not None:
            y = y + self.beta.view(self.view)
        return y


class PReLU(nn.Module):
    """keras PReLU: x if x > 0 else alpha * x, one alpha per input element (alpha in Keras's layout)."""

    def __init__(self, shape):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(shape))

    def forward(self, x):
        alpha = self.alpha.permute(2, 0, 1) if self.alpha.dim() == 3 else self.alpha
        return F.relu(x) - alpha * F.relu(-x)


def uniform(shape, low, high, g):
    return torch.rand(shape, generator=g) * (high - low) + low


def normal(shape, mean, stddev, g):
    return torch.randn(shape, generator=g) * stddev + mean


def truncated_normal(shape, mean, stddev, g):
    """Normal samples redrawn while more than two standard deviations out (TensorFlow's truncated_normal)."""
    t = torch.randn(shape, generator=g)
    while True:
        bad = t.abs() > 2
        count = int(bad.sum())
        if count == 0:
            return t * stddev + mean
        t[bad] = torch.randn(count, generator=g)


def variance_scaling(shape, scale, mode, distribution, g):
    """Keras's VarianceScaling on a weight of Keras's shape: variance = scale / fan, where a kernel
    [..., inputs, outputs] has fan_in = inputs * receptive field, fan_out = outputs * receptive field
    (the product of the leading dimensions) and fan_avg their mean. "uniform" draws on
    +-sqrt(3 * variance); "truncated_normal" draws a normal truncated at two standard deviations,
    its stddev divided by 0.8796..., the stddev of a unit normal so truncated."""
    if len(shape) == 1:
        fan_in = fan_out = shape[0]
    else:
        receptive_field = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    variance = scale / max(1, fan)
    if distribution == "uniform":
        limit = math.sqrt(3 * variance)
        return uniform(shape, -limit, limit, g)
    return truncated_normal(shape, 0.0, math.sqrt(variance) / 0.8796256610342398, g)


def piecewise_constant(boundaries, values, step):
    for boundary, value in zip(boundaries, values):
        if step <= boundary:
            return value
    return values[len(boundaries)]
`;

export const PY_DISTRIBUTED = `# ---------------------------------------------------------------- distributed
# One process (python3 model.py) or one per rank under torchrun (or any launcher that sets RANK,
# WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT): the process group comes from the environment,
# nccl on GPUs and gloo on CPUs.


def setup_distributed(device_flag):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_flag == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device cuda: PyTorch {torch.__version__} sees no CUDA device; use --device cpu")
    use_cuda = device_flag == "cuda" or (device_flag == "auto" and torch.cuda.is_available())
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise SystemExit(f"rank {rank}: LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA devices")
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world > 1:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return rank, world, device


def all_reduce_sum(values, world):
    """Sums a float64 tensor over the ranks (in place); a no-op in one process."""
    if world > 1:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


class GlobalBatchSampler(DistributedSampler):
    """Each step's global batch (BATCH examples of one permutation, the same on every rank: seeded by
    seed + epoch, set_epoch as DistributedSampler) split in contiguous slices over the ranks, so that
    N ranks together take exactly the step one process takes. Yields (this rank's indices, global n)."""

    def __init__(self, count, batch, steps, fixed_steps, shuffle, seed, rank, world):
        super().__init__(range(max(count, 1)), num_replicas=world, rank=rank, shuffle=shuffle, seed=seed)
        self.count, self.batch, self.steps, self.fixed_steps = count, batch, steps, fixed_steps

    def __len__(self):
        return self.steps

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.count, generator=g)
        else:
            order = torch.arange(self.count)
        cursor = 0
        for _ in range(self.steps):
            n = self.batch if self.fixed_steps else min(self.batch, self.count - cursor)
            lo = cursor + n * self.rank // self.num_replicas
            hi = cursor + n * (self.rank + 1) // self.num_replicas
            yield order[torch.arange(lo, hi) % self.count], n
            cursor += n
`;

export const PY_AUGMENT = `# ---------------------------------------------------------------- augmentation
# nnc's on-the-fly augmentation (src/runtime/data/augment.ts, Keras's ImageDataGenerator): per image a
# random rotation, shifts, shear and zoom about the centre, sampled bilinearly with a fill mode.
# Vectorised over the batch; each rank draws from its own generator.


def random_affine(n, g):
    """n transforms [n, 6] (float64): input (row, col) offsets = [[a, b], [d, e]] . output offsets + [c, f]."""
    def uniform(limit):
        return (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * limit

    zeros = torch.zeros(n, dtype=torch.float64)
    theta = uniform(AUGMENT["rotation"]) * math.pi / 180 if AUGMENT["rotation"] else zeros
    tx = uniform(AUGMENT["height_shift"]) * IMAGE[0] if AUGMENT["height_shift"] else zeros
    ty = uniform(AUGMENT["width_shift"]) * IMAGE[1] if AUGMENT["width_shift"] else zeros
    shear = uniform(AUGMENT["shear"]) * math.pi / 180 if AUGMENT["shear"] else zeros
    if AUGMENT["zoom"]:
        zx, zy = 1 + uniform(AUGMENT["zoom"]), 1 + uniform(AUGMENT["zoom"])
    else:
        zx, zy = zeros + 1, zeros + 1
    return affine_matrix(theta, tx, ty, shear, zx, zy)


def affine_matrix(theta, tx, ty, shear, zx, zy):
    """rotation(theta) . shift(tx, ty) . shear . zoom(zx, zy) as [n, 6] (augment.ts's affineMatrix)."""
    cos, sin = torch.cos(theta), torch.sin(theta)
    ss, cs = -torch.sin(shear), torch.cos(shear)
    s01 = cos * ss - sin * cs
    s11 = sin * ss + cos * cs
    return torch.stack([cos * zx, s01 * zy, cos * tx - sin * ty, sin * zx, s11 * zy, sin * tx + cos * ty], dim=1)


def fill_index(i, n, fill):
    """Maps out-of-range integer indices into [0, n) (scipy.ndimage's nearest / reflect / wrap)."""
    if fill == "nearest":
        return i.clamp(0, n - 1)
    if fill == "wrap":
        return torch.remainder(i, n)
    j = torch.remainder(i, 2 * n)
    return torch.where(j >= n, 2 * n - 1 - j, j)


def augment(images, m):
    """images [n, h, w, c] (NHWC floats), m [n, 6] from random_affine: the transformed images."""
    n, h, w, c = images.shape
    m = m.to(images.device)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    dy = (torch.arange(h, dtype=torch.float64, device=images.device) - cy).view(1, h, 1)
    dx = (torch.arange(w, dtype=torch.float64, device=images.device) - cx).view(1, 1, w)
    col = lambda k: m[:, k].view(n, 1, 1)
    y = col(0) * dy + col(1) * dx + col(2) + cy
    x = col(3) * dy + col(4) * dx + col(5) + cx
    fill = AUGMENT["fill"]
    if fill == "constant":
        outside = (y < -1e-9) | (y > h - 1 + 1e-9) | (x < -1e-9) | (x > w - 1 + 1e-9)
        y, x = y.clamp(0, h - 1), x.clamp(0, w - 1)
        fill = "nearest"
    y0, x0 = torch.floor(y), torch.floor(x)
    fy, fx = (y - y0).unsqueeze(-1).to(images.dtype), (x - x0).unsqueeze(-1).to(images.dtype)
    y0, x0 = y0.long(), x0.long()
    ya, yb = fill_index(y0, h, fill), fill_index(y0 + 1, h, fill)
    xa, xb = fill_index(x0, w, fill), fill_index(x0 + 1, w, fill)
    flat = images.reshape(n, h * w, c)

    def at(yi, xi):
        index = (yi * w + xi).reshape(n, h * w, 1).expand(n, h * w, c)
        return flat.gather(1, index).reshape(n, h, w, c)

    out = (1 - fy) * ((1 - fx) * at(ya, xa) + fx * at(ya, xb)) + fy * ((1 - fx) * at(yb, xa) + fx * at(yb, xb))
    if AUGMENT["fill"] == "constant":
        out = torch.where(outside.unsqueeze(-1), torch.full_like(out, AUGMENT["cval"]), out)
    return out
`;
