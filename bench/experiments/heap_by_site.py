#!/usr/bin/env python3
"""Experiment, not part of the benchmark: where an idle socket's memory goes.

Groups heaptrack's peak-memory stacks by what allocated (the nearest known allocation
site from the leaf) and on whose behalf (the nearest Switchboard file), and divides by
the number of sockets. The recipe docs/benchmarks.md used:

    heaptrack -o /tmp/heap target/release/switchboard serve     # with the bench env
    bench/harness/target/release/loadgen idle --pid <pid> --n 2000 --warmup 50 \\
        --url ws://127.0.0.1:18080/v1/ws
    kill -TERM <pid>
    heaptrack_print -f /tmp/heap.zst -F /tmp/stacks.txt --flamegraph-cost-type peak
    python3 bench/experiments/heap_by_site.py /tmp/stacks.txt 2050
"""

import collections
import sys

# (substring of a frame, what it is), checked from the leaf up; the first match wins.
KINDS = [
    ("broadcast.rs", "tokio broadcast ring"),
    ("dispatcher.rs", "actix-http h1 dispatcher buffers"),
    ("concurrency.rs", "ractor mailbox channels"),
    ("handle_with_protocols", "actix-ws channel"),
    ("bounded.rs", "tokio bounded mpsc"),
    ("unbounded.rs", "tokio unbounded mpsc"),
    ("spawn_local", "task spawned on the HTTP worker"),
    ("spawn_named", "tokio task (ractor spawn)"),
    ("bind_new_task", "tokio task"),
    ("actor.rs", "ractor boxed actor loop"),
    ("sqlite", "SQLite"),
    ("sqlx", "sqlx"),
    ("hashbrown", "hash map"),
    ("interval", "tokio timer"),
]
OWNERS = ["socket.rs", "hello.rs", "connection.rs", "conversation.rs", "tenant.rs", "bus.rs", "ws.rs"]


def main():
    path, sockets = sys.argv[1], float(sys.argv[2])
    total, by = 0, collections.Counter()
    for line in open(path):
        stack, _, cost = line.rstrip().rpartition(" ")
        if not cost.isdigit():
            continue
        cost = int(cost)
        total += cost
        frames = stack.split(";")
        kind = next((k for f in reversed(frames) for p, k in KINDS if p in f), "other")
        owner = next((o for f in reversed(frames) for o in OWNERS if o in f), "-")
        by[(kind, owner)] += cost
    print(f"peak heap {total / 1e6:.1f} MB = {total / sockets:,.0f} B per socket ({sockets:.0f} sockets)")
    print("| B per socket | what | on behalf of |")
    print("|---|---|---|")
    for (kind, owner), cost in by.most_common(15):
        print(f"| {cost / sockets:,.0f} | {kind} | {owner} |")


if __name__ == "__main__":
    main()
