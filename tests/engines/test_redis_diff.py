#!/usr/bin/env python3
"""kvserver against a live redis-server: the same random commands to both,
replies compared.

    test_redis_diff.py PATH_TO_KVSERVER ENGINE [OPS]

Starts kvserver (--port 0) and `redis-server --port 0`-like on a free port
(`--save '' --appendonly no`), sends OPS (default 20,000) seeded random
commands over a small keyspace to both, and fails on the first reply that
differs. Replies whose order Redis does not define (HGETALL, SMEMBERS...)
are compared sorted; commands whose reply is random or depends on timing
are left out. Exits 77 (ctest: skipped) when redis-server is not on PATH.
Plain sockets only: no Python module is needed.
"""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(30)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln

    def reply(self):
        ln = self.line()
        t, rest = ln[:1], ln[1:]
        if t in (b"+", b"-", b":"):
            return (t, rest)
        n = int(rest)
        if t == b"$":
            if n < 0:
                return (b"$", None)
            while len(self.buf) < n + 2:
                d = self.s.recv(65536)
                if not d:
                    raise EOFError
                self.buf += d
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return (b"$", v)
        if n < 0:
            return (b"*", None)
        return (b"*", [self.reply() for _ in range(n)])

    def cmd(self, *args):
        self.s.sendall(encode(args))
        return self.reply()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_kvserver(path, engine):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if os.environ.get("KV_TEST_PRELOAD"):
        env["LD_PRELOAD"] = os.environ["KV_TEST_PRELOAD"]
    p = subprocess.Popen([path, "--engine", engine, "--port", "0", "--threads", "2",
                          "--lsm-memtable-bytes", "4K"], stdout=subprocess.PIPE, env=env)
    line = p.stdout.readline().decode()
    if "listening on" not in line:
        p.kill()
        raise SystemExit("kvserver did not start: %r" % line)
    return p, int(line.split()[3].rsplit(":", 1)[1])


def start_redis(tmp):
    for _ in range(20):
        port = free_port()
        p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", tmp,
                              "--daemonize", "no", "--logfile", os.path.join(tmp, "log")],
                             stdout=subprocess.DEVNULL)
        for _ in range(200):
            try:
                c = Conn(port)
                if c.cmd("PING") == (b"+", b"PONG"):
                    return p, c
            except OSError:
                time.sleep(0.02)
            if p.poll() is not None:
                break
        p.kill()
        p.wait()
    raise SystemExit("redis-server did not start")


# Replies compared as multisets (Redis leaves their order open).
UNORDERED = {"HGETALL", "HKEYS", "HVALS", "SMEMBERS", "KEYS"}


def norm(cmd, r):
    if cmd in UNORDERED and r[0] == b"*" and r[1] is not None:
        if cmd == "HGETALL":
            pairs = [(r[1][i], r[1][i + 1]) for i in range(0, len(r[1]), 2)]
            return (b"*", sorted(pairs))
        return (b"*", sorted(r[1]))
    return r


def gen(rng):
    k = lambda: "k%d" % rng.randrange(12)
    m = lambda: rng.choice(["a", "b", "c", "d", "e", "", "x y", "1", "-0", "10"])
    n = lambda: rng.choice(["0", "1", "-1", "2", "5", "-3", "100", "-0", "01", "x",
                            "9223372036854775807", "-9223372036854775808", "1.5"])
    f = lambda: rng.choice(["0", "1", "-1", "1.5", "-2.25", "inf", "-inf", "1e3", "x", "nan",
                            "0.1", "3"])
    table = [
        lambda: ["SET", k(), m()] + rng.choice([[], ["NX"], ["XX"], ["GET"], ["KEEPTTL"],
                                                 ["EX", n()], ["PX", "100000"], ["NX", "GET"]]),
        lambda: ["GET", k()], lambda: ["DEL", k(), k()], lambda: ["EXISTS", k(), k()],
        lambda: ["TYPE", k()], lambda: ["INCR", k()], lambda: ["DECRBY", k(), n()],
        lambda: ["INCRBY", k(), n()], lambda: ["APPEND", k(), m()], lambda: ["STRLEN", k()],
        lambda: ["GETRANGE", k(), n(), n()], lambda: ["SETRANGE", k(), rng.choice(["0", "2"]), m()],
        lambda: ["GETSET", k(), m()], lambda: ["GETDEL", k()], lambda: ["SETNX", k(), m()],
        lambda: ["MSETNX", k(), m(), k(), m()], lambda: ["MGET", k(), k(), k()],
        lambda: ["RENAME", k(), k()], lambda: ["RENAMENX", k(), k()],
        lambda: ["COPY", k(), k()] + rng.choice([[], ["REPLACE"]]),
        lambda: ["EXPIRE", k(), rng.choice(["100", "200", "-1", "0", "x"])]
        + rng.choice([[], ["NX"], ["XX"], ["GT"], ["LT"]]),
        lambda: ["PERSIST", k()], lambda: ["TTL", k()],
        lambda: ["LPUSH", k(), m(), m()], lambda: ["RPUSH", k(), m()],
        lambda: ["LPOP", k()] + rng.choice([[], [n()]]), lambda: ["RPOP", k()],
        lambda: ["LLEN", k()], lambda: ["LRANGE", k(), n(), n()], lambda: ["LINDEX", k(), n()],
        lambda: ["LSET", k(), n(), m()], lambda: ["LTRIM", k(), n(), n()],
        lambda: ["LREM", k(), n(), m()], lambda: ["LPUSHX", k(), m()],
        lambda: ["HSET", k(), m(), m()], lambda: ["HGET", k(), m()], lambda: ["HDEL", k(), m()],
        lambda: ["HLEN", k()], lambda: ["HGETALL", k()], lambda: ["HKEYS", k()],
        lambda: ["HVALS", k()], lambda: ["HEXISTS", k(), m()], lambda: ["HMGET", k(), m(), m()],
        lambda: ["HINCRBY", k(), m(), n()], lambda: ["HSETNX", k(), m(), m()],
        lambda: ["HSTRLEN", k(), m()],
        lambda: ["SADD", k(), m(), m()], lambda: ["SREM", k(), m()], lambda: ["SCARD", k()],
        lambda: ["SMEMBERS", k()], lambda: ["SISMEMBER", k(), m()],
        lambda: ["SMISMEMBER", k(), m(), m()],
        lambda: ["ZADD", k()] + rng.choice([[], ["NX"], ["XX"], ["GT"], ["LT"], ["CH"], ["INCR"],
                                             ["XX", "CH"]]) + [f(), m()],
        lambda: ["ZADD", k(), f(), m(), f(), m()], lambda: ["ZREM", k(), m()],
        lambda: ["ZSCORE", k(), m()], lambda: ["ZCARD", k()], lambda: ["ZRANK", k(), m()],
        lambda: ["ZREVRANK", k(), m()], lambda: ["ZINCRBY", k(), f(), m()],
        lambda: ["ZRANGE", k(), n(), n()] + rng.choice([[], ["WITHSCORES"], ["REV"]]),
        lambda: ["ZREVRANGE", k(), n(), n()], lambda: ["ZPOPMIN", k()] + rng.choice([[], [n()]]),
        lambda: ["ZPOPMAX", k()], lambda: ["ZCOUNT", k(), f(), f()],
        lambda: ["ZMSCORE", k(), m(), m()],
        lambda: ["ZRANGEBYSCORE" if rng.random() < 0.5 else "ZREVRANGEBYSCORE", k(),
                 rng.choice(["-inf", "+inf", "(1", "0", "1.5", "(3", "x"]),
                 rng.choice(["-inf", "+inf", "(1", "0", "1.5", "(3", "10"])]
        + rng.choice([[], ["WITHSCORES"], ["LIMIT", rng.choice(["0", "1", "2"]),
                                            rng.choice(["-1", "0", "1", "2"])],
                      ["WITHSCORES", "LIMIT", "1", "-1"]]),
        lambda: ["ZRANGE", k(), rng.choice(["-inf", "(1", "0", "2"]),
                 rng.choice(["+inf", "(2", "1", "10"]), "BYSCORE"]
        + rng.choice([[], ["REV"], ["WITHSCORES"], ["LIMIT", "1", "2"], ["REV", "LIMIT", "0", "1"]]),
        lambda: ["ZRANGE", k(), "0", "-1", "LIMIT", "0", "1"],
        lambda: ["INCRBYFLOAT", k(), f()], lambda: ["HINCRBYFLOAT", k(), m(), f()],
        lambda: ["GETEX", k()] + rng.choice([[], ["PERSIST"], ["EX", n()]]),
        lambda: ["SETEX", k(), n(), m()], lambda: ["HMSET", k(), m(), m()],
        lambda: ["MULTI"], lambda: ["EXEC"], lambda: ["DISCARD"],
        lambda: ["KEYS", rng.choice(["*", "k1*", "k[0-5]", "k?", "k[^1]*", "*1", "k[a-]", "\\k1",
                                     "k1[", "**", "?*?"])],
    ]
    return rng.choice(table)()


def main():
    if not shutil.which("redis-server"):
        print("redis-server is not on PATH: skipped")
        sys.exit(77)
    ops = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    tmp = tempfile.mkdtemp(prefix="kvdiff.")
    kv, kport = start_kvserver(sys.argv[1], sys.argv[2])
    rp, rc = start_redis(tmp)
    try:
        kc = Conn(kport)
        rng = random.Random(int(os.environ.get("KV_DIFF_SEED", "20261122")))
        queued = None  # commands queued since MULTI, for EXEC's replies
        for i in range(ops):
            args = gen(rng)
            a, b = kc.cmd(*args), rc.cmd(*args)
            name = args[0]
            if name == "EXEC" and queued is not None and a[0] == b"*" and a[1] is not None \
                    and b[0] == b"*" and b[1] is not None and len(a[1]) == len(queued):
                a = (b"*", [norm(q, r) for q, r in zip(queued, a[1])])
                b = (b"*", [norm(q, r) for q, r in zip(queued, b[1])])
            if norm(name, a) != norm(name, b):
                raise SystemExit("op %d %r:\n  kvserver: %.2000r\n  redis:    %.2000r"
                                 % (i, args, a, b))
            if name == "MULTI" and a == (b"+", b"OK"):
                queued = []
            elif name in ("EXEC", "DISCARD"):
                queued = None
            elif queued is not None and a == (b"+", b"QUEUED"):
                queued.append(name)
        # The keyspaces agree at the end.
        for key in ["k%d" % i for i in range(12)]:
            t = kc.cmd("TYPE", key)
            if t != rc.cmd("TYPE", key):
                raise SystemExit("TYPE %s differs at the end" % key)
    finally:
        kv.terminate()
        rp.terminate()
        kv_rc = kv.wait(timeout=30)
        rp.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    if kv_rc != 0:
        raise SystemExit("kvserver exited with %d" % kv_rc)
    print("%d random commands: replies identical to redis-server's" % ops)


if __name__ == "__main__":
    main()
