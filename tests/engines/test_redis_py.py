#!/usr/bin/env python3
"""kvserver through redis-py (Debian's python3-redis), for one engine.

    test_redis_py.py PATH_TO_KVSERVER ENGINE

Exits 77 (ctest: skipped) when the redis module is not installed. When
KV_TEST_PRELOAD names a shared library, the server runs with it as
LD_PRELOAD. Checks what users of redis-py meet first: the default
pipeline (MULTI/EXEC), WATCH conflicts, expire(..., nx=True) and friends,
and the list, hash, set and sorted-set methods.
"""
import os
import subprocess
import sys

try:
    import redis
except ImportError:
    print("redis-py (python3-redis) is not installed: skipped")
    sys.exit(77)


def start(path, engine):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    lib = os.environ.get("KV_TEST_PRELOAD")
    if lib:
        env["LD_PRELOAD"] = lib
    proc = subprocess.Popen(
        [path, "--engine", engine, "--port", "0", "--threads", "2"],
        stdout=subprocess.PIPE, env=env)
    line = proc.stdout.readline().decode()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit("kvserver did not start: %r" % line)
    port = int(line.split()[3].rsplit(":", 1)[1])
    return proc, port


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    proc, port = start(sys.argv[1], sys.argv[2])
    try:
        r = redis.Redis(port=port, decode_responses=True)
        other = redis.Redis(port=port, decode_responses=True)
        check(r.ping(), "ping")

        # The default pipeline is a MULTI/EXEC transaction.
        p = r.pipeline()
        p.set("py:a", "1").incr("py:a").lpush("py:l", "x", "y").get("py:a")
        check(p.execute() == [True, 2, 2, "2"], "pipeline results")
        # An error inside the transaction comes back in its place.
        p = r.pipeline()
        p.set("py:s", "v").lpush("py:s", "x").get("py:s")
        res = p.execute(raise_on_error=False)
        check(res[0] is True and isinstance(res[1], redis.ResponseError) and res[2] == "v",
              "error inside EXEC: %r" % (res,))
        # A non-transactional pipeline too.
        p = r.pipeline(transaction=False)
        for i in range(100):
            p.set("py:n%d" % i, i)
        check(all(p.execute()), "plain pipeline")

        # WATCH: a change by another client aborts the transaction.
        with r.pipeline() as p:
            p.watch("py:a")
            other.set("py:a", "100")
            p.multi()
            p.incr("py:a")
            try:
                p.execute()
                raise AssertionError("EXEC ran despite a WATCHed change")
            except redis.WatchError:
                pass
        # redis-py's transaction() helper retries until it succeeds.

        def bump(pipe):
            v = int(pipe.get("py:a"))
            pipe.multi()
            pipe.set("py:a", v + 1)
        r.transaction(bump, "py:a")
        check(r.get("py:a") == "101", "transaction helper")

        # EXPIRE options.
        r.set("py:e", "v")
        check(r.expire("py:e", 100, nx=True) is True, "expire nx on a key without ttl")
        check(r.expire("py:e", 200, nx=True) is False, "expire nx on a key with ttl")
        check(r.expire("py:e", 50, gt=True) is False, "expire gt smaller")
        check(r.expire("py:e", 500, gt=True) is True, "expire gt larger")
        check(r.expire("py:e", 50, lt=True) is True, "expire lt smaller")
        check(r.pexpire("py:e", 10000, xx=True) is True, "pexpire xx")
        check(0 < r.ttl("py:e") <= 10, "ttl after pexpire")
        check(r.persist("py:e") is True and r.ttl("py:e") == -1, "persist")
        check(r.expire("py:nokey", 10, nx=True) is False, "expire on a missing key")

        # Strings and keys.
        check(r.append("py:str", "ab") == 2 and r.append("py:str", "cd") == 4, "append")
        check(r.getrange("py:str", 1, 2) == "bc", "getrange")
        check(r.setrange("py:str", 1, "XY") == 4 and r.get("py:str") == "aXYd", "setrange")
        check(r.getset("py:str", "new") == "aXYd", "getset")
        check(r.getdel("py:str") == "new" and r.exists("py:str") == 0, "getdel")
        check(r.setnx("py:nx", "1") is True and r.setnx("py:nx", "2") is False, "setnx")
        check(r.setex("py:ex", 100, "v") and 0 < r.ttl("py:ex") <= 100, "setex")
        check(r.getex("py:ex", persist=True) == "v" and r.ttl("py:ex") == -1, "getex persist")
        check(r.incrbyfloat("py:f", 1.5) == 1.5, "incrbyfloat")
        check(r.msetnx({"py:m1": 1, "py:m2": 2}) is True, "msetnx")
        check(r.rename("py:m1", "py:m3") and r.get("py:m3") == "1", "rename")
        check(r.copy("py:m3", "py:m4") is True and r.get("py:m4") == "1", "copy")
        check(r.type("py:l") == "list" and r.type("py:m4") == "string", "type")
        check(r.unlink("py:m3", "py:m4") == 2, "unlink")
        check(r.touch("py:m2", "py:none") == 1, "touch")

        # Lists.
        r.delete("py:l")
        check(r.rpush("py:l", *range(10)) == 10, "rpush")
        check(r.lrange("py:l", 0, 2) == ["0", "1", "2"], "lrange")
        check(r.lpop("py:l") == "0" and r.rpop("py:l", 2) == ["9", "8"], "pops")
        check(r.llen("py:l") == 7 and r.lindex("py:l", -1) == "7", "llen/lindex")
        # Hashes.
        check(r.hset("py:h", mapping={"a": "1", "b": "2"}) == 2, "hset mapping")
        check(r.hgetall("py:h") == {"a": "1", "b": "2"}, "hgetall")
        check(r.hmget("py:h", ["a", "zz"]) == ["1", None], "hmget")
        check(r.hincrby("py:h", "a", 5) == 6 and r.hexists("py:h", "b"), "hincrby/hexists")
        check(r.hdel("py:h", "a", "b") == 2 and r.exists("py:h") == 0, "hdel empties")
        # Sets.
        check(r.sadd("py:set", "a", "b", "c") == 3, "sadd")
        check(r.smembers("py:set") == {"a", "b", "c"}, "smembers")
        check(r.sismember("py:set", "a") and not r.sismember("py:set", "z"), "sismember")
        check(r.spop("py:set") in {"a", "b", "c"} and r.scard("py:set") == 2, "spop")
        # Sorted sets.
        check(r.zadd("py:z", {"a": 1, "b": 2.5, "c": 3}) == 3, "zadd")
        check(r.zrange("py:z", 0, -1, withscores=True) == [("a", 1.0), ("b", 2.5), ("c", 3.0)],
              "zrange withscores")
        check(r.zincrby("py:z", 2, "a") == 3.0 and r.zrank("py:z", "a") == 1, "zincrby/zrank")
        check(r.zscore("py:z", "b") == 2.5 and r.zcard("py:z") == 3, "zscore/zcard")
        check(r.zpopmin("py:z") == [("b", 2.5)], "zpopmin")
        check(r.zadd("py:z", {"a": 10}, gt=True, ch=True) == 1, "zadd gt ch")
        check(r.zrem("py:z", "a", "c") == 2 and r.exists("py:z") == 0, "zrem empties")
        # WRONGTYPE as a ResponseError.
        try:
            r.get("py:l")
            raise AssertionError("GET on a list worked")
        except redis.ResponseError as e:
            check(str(e).startswith("WRONGTYPE"), "wrongtype text: %s" % e)

        check(r.flushall(), "flushall")
    finally:
        proc.terminate()
        rc = proc.wait(timeout=30)
    if rc != 0:
        raise SystemExit("kvserver exited with %d" % rc)
    print("redis-py: all checks passed")


if __name__ == "__main__":
    main()
