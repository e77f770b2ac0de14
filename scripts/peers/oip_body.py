"""Writes one Open Inference Protocol REST request body, as inferbench's client sends it,
for scripts/peers/wrk-agreement.sh to hand to wrk (scripts/peers/oip-post.lua):

  python3 scripts/peers/oip_body.py binary|json SHAPE OUT_FILE    e.g. binary 1x3x8x8 body.bin

One FP32 input named input__0 of SHAPE (batch first), seeded standard normal values. binary: the
JSON header asks for every output as raw data (binary_data_output) and the input's
data follows it (binary_data_size); prints the header's length, the
Inference-Header-Content-Length. json: the values as JSON numbers; prints nothing."""

import json
import random
import struct
import sys


def main(encoding, shape_text, out):
    shape = [int(d) for d in shape_text.split("x")]
    n = 1
    for d in shape:
        n *= d
    rng = random.Random(0)
    values = [rng.gauss(0.0, 1.0) for _ in range(n)]  # standard normal, as inferbench draws f32 inputs
    if encoding == "binary":
        raw = struct.pack(f"<{n}f", *values)
        header = {
            "parameters": {"binary_data_output": True},
            "inputs": [{"name": "input__0", "shape": shape, "datatype": "FP32", "parameters": {"binary_data_size": len(raw)}}],
        }
        head = json.dumps(header, separators=(",", ":")).encode()
        with open(out, "wb") as f:
            f.write(head + raw)
        print(len(head))
    elif encoding == "json":
        # float32 values, printed as JSON numbers the way a float32 reads back
        values = [struct.unpack("<f", struct.pack("<f", v))[0] for v in values]
        body = {"inputs": [{"name": "input__0", "shape": shape, "datatype": "FP32", "data": values}]}
        with open(out, "wb") as f:
            f.write(json.dumps(body, separators=(",", ":")).encode())
    else:
        raise SystemExit(f"encoding {encoding!r}: binary or json")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
