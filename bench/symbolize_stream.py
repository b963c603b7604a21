#!/usr/bin/env python3
"""Writes a raw leaktrack stream whose live allocations reference N distinct frames spread over the .text
of a real library, so `leaktrack collect --input` measures decoding plus symbolization of N frames.

usage: symbolize_stream.py LIBRARY FRAMES OUTPUT
"""
import struct
import subprocess
import sys

REC = {"HELLO": 1, "MODULES_BEGIN": 2, "MODULE": 3, "MODULES_END": 4, "STACK": 5, "ALLOC": 6, "FINAL": 12}
FRAMES_PER_STACK = 10
BIAS = 0x7F0000000000


def text_section(library):
    out = subprocess.run(["readelf", "-SW", library], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.replace("[ ", "[").split()
        if len(parts) > 5 and parts[1] == ".text":
            return int(parts[3], 16), int(parts[5], 16)
    raise SystemExit(f"{library} has no .text section")


def pad(data):
    return data + b"\0" * (-len(data) % 8)


class Stream:
    def __init__(self):
        self.out = bytearray()
        self.pos = 0

    def ring(self, kind, payload):
        words = 1 + len(payload) // 8
        self.out += struct.pack("<Q", kind | words << 8 | (self.pos & ((1 << 40) - 1)) << 24) + payload
        self.pos += words

    def hello(self, exe):
        exe_bytes = exe.encode()
        body = b"LEAKTRK\0" + struct.pack("<IBBHIIQQIIII", 1, 8, 1, 0, 4242, 1, 0, 0, 128, len(exe_bytes), 0, 16)
        payload = body + pad(exe_bytes)
        self.out += struct.pack("<Q", REC["HELLO"] | (1 + len(payload) // 8) << 8) + payload


def main():
    library, frames, output = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    start, size = text_section(library)
    s = Stream()
    s.hello("/bench/symbolize")
    s.ring(REC["MODULES_BEGIN"], struct.pack("<QQ", 1, 0))
    path = library.encode()
    s.ring(REC["MODULE"], struct.pack("<QQ", BIAS, len(path) | 1 << 48) + struct.pack("<QQ", BIAS + start, BIAS + start + size) + pad(path))
    s.ring(REC["MODULES_END"], struct.pack("<QQ", 1, 0))
    step = max(1, size // frames)
    addresses = [BIAS + start + 1 + i * step for i in range(frames)]
    for stack_id, first in enumerate(range(0, frames, FRAMES_PER_STACK), start=1):
        chunk = addresses[first:first + FRAMES_PER_STACK]
        s.ring(REC["STACK"], struct.pack("<Q", stack_id | len(chunk) << 32) + b"".join(struct.pack("<Q", a) for a in chunk))
        s.ring(REC["ALLOC"], struct.pack("<QQQ", stack_id | 1 << 32, 0x100000 + stack_id * 64, 32))
    s.ring(REC["FINAL"], struct.pack("<QQQQQQQ", 0, 0, 0, 0, 0, 2**64 - 1, 0))
    with open(output, "wb") as f:
        f.write(s.out)


if __name__ == "__main__":
    main()
