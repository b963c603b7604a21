#!/usr/bin/env python3
"""Writes a raw leaktrack stream of N events (allocation/free pairs over 64 stacks) that leaves LIVE
allocations behind, for measuring the collector alone: `leaktrack collect --input FILE`.

usage: event_stream.py EVENTS LIVE OUTPUT
"""
import struct
import sys

TAG_MASK = (1 << 40) - 1


def main():
    events, live, output = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    out = bytearray()
    exe = b"/bench/events"
    hello = b"LEAKTRK\0" + struct.pack("<IBBHIIQQIIII", 1, 8, 1, 0, 4243, 1, 0, 0, 128, len(exe), 0, 16)
    hello += exe + b"\0" * (-len(exe) % 8)
    out += struct.pack("<Q", 1 | (1 + len(hello) // 8) << 8) + hello
    pos = 0

    def header(kind, words):
        nonlocal pos
        h = kind | words << 8 | (pos & TAG_MASK) << 24
        pos += words
        return h

    for stack in range(1, 65):
        out += struct.pack("<QQQ", header(5, 3), stack | 1 << 32, 0x400000 + stack * 16)
    alloc = struct.Struct("<QQQQ")
    free = struct.Struct("<QQ")
    chunk = bytearray()
    pairs = (events - live) // 2
    for i in range(pairs):
        address = 0x10000000 + (i % 4096) * 64
        chunk += alloc.pack(header(6, 4), (1 + i % 64) | 1 << 32, address, 32 + i % 100)
        chunk += free.pack(header(7, 2), address)
        if len(chunk) > 1 << 22:
            out += chunk
            chunk = bytearray()
    for i in range(live):
        chunk += alloc.pack(header(6, 4), (1 + i % 64) | 1 << 32, 0x40000000 + i * 64, 48)
    out += chunk
    out += struct.pack("<Q", header(12, 8)) + struct.pack("<QQQQQQQ", 0, 0, 0, 0, 0, 0, 0)
    with open(output, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
