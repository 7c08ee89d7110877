#!/usr/bin/env python3
"""Capture Redis's exact replies for kvserver's reply tests.

    gen_redis_replies.py PORT > redis_replies.h

PORT is a redis-server 7.0 started with `--save '' --appendonly no` (so
CONFIG GET save reads ""). Every case below is sent to it in order on one
connection; the raw reply bytes become the expected text in the generated
C table, which test_kvserver.c replays against kvserver. Only replies that
do not depend on the server's state outside these keys, on time or on
randomness are captured.
"""
import socket
import sys

CASES = r"""
DEL rx:l rx:h rx:s rx:z rx:z2 rx:str rx:nol rx:t rx:k rx:n rx:l2
# lists
RPUSH rx:l a b c
LPUSH rx:l z
LRANGE rx:l 0 -1
LRANGE rx:l -2 100
LRANGE rx:l 5 10
LRANGE rx:l x 1
LINDEX rx:l -1
LINDEX rx:l 10
LLEN rx:l
LLEN rx:nol
LPOP rx:l
RPOP rx:l 2
LPOP rx:l 0
LPOP rx:l -1
LPOP rx:nol 2
LPOP rx:nol
LPOP rx:l 1 2
RPUSH rx:l x y x z x
LREM rx:l 2 x
LREM rx:l -1 x
LRANGE rx:l 0 -1
LSET rx:l 0 first
LSET rx:l 99 v
LSET rx:nol 0 v
LTRIM rx:l 1 -1
LRANGE rx:l 0 -1
LPUSHX rx:nol a
RPUSHX rx:l tail
LPUSH rx:l
TYPE rx:l
GET rx:l
INCR rx:l
APPEND rx:l x
STRLEN rx:l
MGET rx:l
SET rx:l2 v
RPUSH rx:l2 x
SET rx:str v
LPUSH rx:str x
HSET rx:str f v
SADD rx:str m
ZADD rx:str 1 m
LRANGE rx:str 0 -1
# hashes
HSET rx:h f1 v1 f2 v2
HSET rx:h f1 v1b
HGET rx:h f1
HGET rx:h nof
HMGET rx:h f1 nof f2
HLEN rx:h
HEXISTS rx:h f2
HEXISTS rx:h nof
HDEL rx:h f2 nof
HGETALL rx:h
HKEYS rx:h
HVALS rx:h
HINCRBY rx:h n 5
HINCRBY rx:h n -10
HINCRBY rx:h f1 1
HINCRBY rx:h n x
HINCRBYFLOAT rx:h fl 1.5
HINCRBYFLOAT rx:h fl 0.1
HINCRBYFLOAT rx:h f1 1
HSETNX rx:h f1 x
HSETNX rx:h f3 x
HSTRLEN rx:h f1
HSET rx:h
HSET rx:h a
HSET rx:h a 1 b
HMSET rx:h a 1
HDEL rx:h n fl f3 a
HGETALL rx:h
TYPE rx:h
HGETALL rx:noh
# sets
SADD rx:s a b c a
SADD rx:s a
SCARD rx:s
SISMEMBER rx:s a
SISMEMBER rx:s x
SMISMEMBER rx:s a x
SREM rx:s a x
SREM rx:s b
SMEMBERS rx:s
SPOP rx:nos
SPOP rx:nos 3
SPOP rx:s 0
SPOP rx:s -1
SRANDMEMBER rx:nos
SRANDMEMBER rx:s 0
SRANDMEMBER rx:s
SPOP rx:s
EXISTS rx:s
TYPE rx:s
SMEMBERS rx:nos
# sorted sets
ZADD rx:z 1 a 2 b 3 c
ZADD rx:z 1.5 a
ZADD rx:z CH 1.5 a 2.5 b 4 d
ZADD rx:z NX 10 a 10 e
ZADD rx:z XX 20 e 20 c
ZADD rx:z GT 1 c 30 b
ZADD rx:z LT 1 c
ZADD rx:z INCR 1 a
ZADD rx:z NX INCR 1 a
ZADD rx:z XX NX 1 a
ZADD rx:z GT LT 1 a
ZADD rx:z GT NX 1 a
ZADD rx:z INCR 1 a 2 b
ZADD rx:z x a
ZADD rx:z nan a
ZADD rx:z 1
ZADD rx:z 1 a 2
ZADD rx:z inf i -inf j
ZRANGE rx:z 0 -1 WITHSCORES
ZRANGE rx:z 0 -1 REV
ZRANGE rx:z 2 3
ZRANGE rx:z -2 -1 WITHSCORES
ZREVRANGE rx:z 0 1 WITHSCORES
ZRANGE rx:z 0 -1 BOGUS
ZRANGE rx:z a 1
ZSCORE rx:z a
ZSCORE rx:z i
ZSCORE rx:z nom
ZMSCORE rx:z a nom
ZRANK rx:z a
ZREVRANK rx:z a
ZRANK rx:z nom
ZCARD rx:z
ZCOUNT rx:z 1 3
ZCOUNT rx:z (1 +inf
ZCOUNT rx:z -inf (2.5
ZCOUNT rx:z x 1
ZINCRBY rx:z 0.1 a
ZINCRBY rx:z 1 newm
ZINCRBY rx:z x a
ZREM rx:z newm nom
ZPOPMIN rx:z
ZPOPMIN rx:z 2
ZPOPMAX rx:z
ZPOPMAX rx:z 0
ZPOPMIN rx:noz
ZPOPMIN rx:noz 2
ZPOPMIN rx:z -1
TYPE rx:z
TYPE rx:none
ZADD rx:z2 0.1 a 1e20 b -0.5 c 123456789012345 d 3.0 e -0 f
ZRANGE rx:z2 0 -1 WITHSCORES
ZRANGEBYSCORE rx:z2 -inf +inf WITHSCORES
ZRANGEBYSCORE rx:z2 (0 3 LIMIT 1 2
ZREVRANGEBYSCORE rx:z2 +inf (0 WITHSCORES LIMIT 0 2
ZRANGEBYSCORE rx:z2 1 5 LIMIT -1 2
ZRANGE rx:z2 3 (0 BYSCORE REV
ZRANGE rx:z2 0 -1 LIMIT 0 1
ZRANGEBYSCORE rx:z2 a 1
DEL rx:l rx:h rx:s rx:z rx:z2 rx:str rx:l2
# strings
DEL rx:s1 rx:s2 rx:nos1 rx:nos2 rx:nos3 rx:nos4 rx:m1 rx:m2 rx:m3 rx:f rx:r1 rx:r2 rx:r3 rx:r4
SET rx:s1 abc
APPEND rx:s1 def
APPEND rx:nos1 x
STRLEN rx:s1
STRLEN rx:nos
GETRANGE rx:s1 0 -1
GETRANGE rx:s1 1 2
GETRANGE rx:s1 -2 -1
GETRANGE rx:s1 -1 -2
GETRANGE rx:s1 5 1
GETRANGE rx:s1 0 100
GETRANGE rx:s1 -100 1
GETRANGE rx:nos 0 1
SUBSTR rx:s1 1 3
SETRANGE rx:s1 1 XY
SETRANGE rx:s1 -1 x
SETRANGE rx:s1 536870912 x
SETRANGE rx:nos2 3 ab
GET rx:nos2
SETRANGE rx:nos9 0 ""
GETSET rx:s1 new
GETSET rx:nos3 v
SETNX rx:s1 x
SETNX rx:nos4 x
SETEX rx:s2 0 v
SETEX rx:s2 abc v
SETEX rx:s2 100 v
PSETEX rx:s2 0 v
GETDEL rx:s2
GETDEL rx:s2
GETEX rx:s1 EX 0
GETEX rx:s1 EX abc
GETEX rx:s1 PERSIST EX 10
GETEX rx:s1 FOO
GETEX rx:s1 PERSIST
GETEX rx:nos
MSETNX rx:m1 1 rx:m2 2
MSETNX rx:m1 1 rx:m3 2
MSETNX rx:m1
MSET rx:m1
INCRBYFLOAT rx:f 1.5
INCRBYFLOAT rx:f 0.1
INCRBYFLOAT rx:f abc
INCRBYFLOAT rx:f inf
INCRBYFLOAT rx:s1 1
INCRBYFLOAT rx:f -1.6
INCRBYFLOAT rx:f 1e3
SET rx:r1 v
RENAME rx:nokey x
RENAME rx:r1 rx:r1
RENAME rx:r1 rx:r2
GET rx:r2
EXISTS rx:r1
RENAMENX rx:r2 rx:m1
RENAMENX rx:r2 rx:r3
COPY rx:r3 rx:r4
COPY rx:r3 rx:r4
COPY rx:r3 rx:r4 REPLACE
COPY rx:r3 rx:r4 FOO
COPY rx:nokey rx:r4
COPY rx:r3 rx:r4 DB x
TOUCH rx:r3 rx:r4 rx:nokey
UNLINK rx:r3 rx:r4 rx:nokey
EXPIRETIME rx:m1
PEXPIRETIME rx:m1
EXPIRETIME rx:nokey
PEXPIREAT rx:m1 9223372036854775807
PEXPIRETIME rx:m1
EXPIREAT rx:m1 9223372036854775807
PERSIST rx:m1
PERSIST rx:m1
EXPIRE rx:m1 100 NX
EXPIRE rx:m1 200 NX
EXPIRE rx:m1 200 XX
EXPIRE rx:m1 100 GT
EXPIRE rx:m1 300 GT
EXPIRE rx:m1 400 LT
EXPIRE rx:m1 100 LT
EXPIRE rx:m2 100 XX
EXPIRE rx:m2 100 GT
EXPIRE rx:m2 100 LT
EXPIRE rx:m1 100 NX XX
EXPIRE rx:m1 100 NX GT
EXPIRE rx:m1 100 GT LT
EXPIRE rx:m1 100 FOO
EXPIRE rx:nokey 100 NX
PEXPIRE rx:m1 1000000 XX GT
EXPIRE rx:m1
# integers and expiry times
SET rx:k -0
INCR rx:k
EXPIRE rx:k -0
SELECT -0
SELECT 01
INCRBY rx:n -0
SET rx:k v EX abc
SET rx:k v EX 10 EX 10
SET rx:k v NX NX
SET rx:k v EX 10 PX 10
SET rx:k v PX 9223372036854776
SET rx:k v PXAT 9223372036854775807
SET rx:k v EX 9223372036854775
SET rx:k v EX 0
SET rx:k v EX -0
SET rx:k v EX -5
SET rx:k v KEEPTTL EX 10
SET rx:k v EX 10 KEEPTTL
SET rx:k v GET
LPUSH rx:l2 a
SET rx:l2 v GET
SET rx:l2 v
EXPIRE rx:k 9223372036854775807
EXPIRE rx:k 9223372036854775
PEXPIRE rx:k 9223372036854775807
EXPIREAT rx:k 9223372036854775807
EXPIRE rx:k abc
SET rx:n 5
DECRBY rx:k -9223372036854775808
DECRBY rx:n -9223372036854775808
DECRBY rx:n 9223372036854775807
INCRBY rx:n 9223372036854775807
DECRBY rx:n x
DEL rx:k rx:n rx:l2
# server commands
CLIENT
CLIENT FOO
CLIENT GETNAME x
CLIENT ID x
CLIENT SETNAME
CONFIG
CONFIG FOO
CONFIG GET
CONFIG SET foo bar
CONFIG SET
CONFIG SET a
CONFIG RESETSTAT x
CONFIG GET SAVE
CONFIG GET save appendonly
CONFIG GET sav*
CONFIG GET nosuchparam
COMMAND COUNT x
COMMAND FOO
SHUTDOWN ABORT
SHUTDOWN ABORT NOSAVE
SHUTDOWN FOO
HELLO abc
HELLO 2 foo
HELLO 4
PING a b
ECHO
FOOBAR a b
# glob
DEL gx:_ gx:- ""
SET gx:_ 1
SET gx:- 2
KEYS gx:[a-]
KEYS gx:[^a-]
KEYS gx:[\-]
KEYS gx:[-
SET "" e
KEYS ""
DEL gx:_ gx:- ""
# transactions
MULTI
WATCH x
MULTI
FOO
SET a
EXEC
MULTI
SET rx:t 1
INCR rx:t
LPUSH rx:t x
GET rx:t
EXEC
DISCARD
MULTI
DISCARD
EXEC
MULTI
EXEC
UNWATCH
WATCH
DEL rx:t
"""


def split(line):
    """Split a case line: words separated by spaces; "" is the empty word."""
    return [b"" if w == '""' else w.encode() for w in line.split(" ")]


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def need(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.need(len(self.buf) + 1)
        i = self.buf.index(b"\r\n")
        return i + 2

    def reply(self, start=0):
        """Length of the reply starting at buf[start]."""
        while True:
            try:
                i = self.buf.index(b"\r\n", start)
                break
            except ValueError:
                self.need(len(self.buf) + 1)
        kind = self.buf[start:start + 1]
        head = self.buf[start + 1:i]
        end = i + 2
        if kind == b"$" and int(head) >= 0:
            self.need(end + int(head) + 2)
            return end + int(head) + 2
        if kind == b"*" and int(head) > 0:
            for _ in range(int(head)):
                end = self.reply(end)
            return end
        return end


def c_string(b):
    out = '"'
    for ch in b:
        if ch == 0x0D:
            out += "\\r"
        elif ch == 0x0A:
            out += "\\n"
        elif ch == 0x22:
            out += '\\"'
        elif ch == 0x5C:
            out += "\\\\"
        elif 0x20 <= ch < 0x7F:
            out += chr(ch)
        else:
            out += '\\%03o' % ch
    return out + '"'


def main():
    port = int(sys.argv[1])
    sock = socket.create_connection(("127.0.0.1", port))
    rd = Reader(sock)
    print("/* Generated by gen_redis_replies.py from redis-server 7.0.15: each")
    print(" * command (words split on spaces) and Redis's exact reply. */")
    print("static const struct redis_case redis_cases[] = {")
    for line in CASES.strip().split("\n"):
        if not line or line.startswith("#"):
            continue
        sock.sendall(encode(split(line)))
        n = rd.reply(0)
        raw, rd.buf = rd.buf[:n], rd.buf[n:]
        r = c_string(raw)
        print("    {%s, %s, sizeof(%s) - 1}," % (c_string(line.encode()), r, r))
    print("};")


if __name__ == "__main__":
    main()
