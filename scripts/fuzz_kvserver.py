#!/usr/bin/env python3
"""Protocol fuzzer for kvserver (standard library only).

usage: python3 scripts/fuzz_kvserver.py [--bin PATH] [--preload LIB]
           [--engine E] [--threads N] [--rounds N] [--seed S] [--port P]

Starts kvserver (build/engines/kvserver unless --bin; a running one with
--port), optionally under LD_PRELOAD=LIB (build/interpose/libconcordarena.so:
an invalid free then aborts it with a report), stores known keys of every
type, then sends batches of malformed RESP (lengths, counts, framing, inline
quoting, byte-by-byte and pipelined sends, requests cut off), argument errors
of every command family, 300 connections at once with some half-sent, and
random well-framed commands. After each batch the known keys must read back
exactly, a fresh connection must get PONG within 3 s and the server must be
alive; every reply must be well-formed RESP. Last, a fixed attack set is
repeated six times and VmRSS must not keep growing. Each problem is printed
as a FINDING line; the exit status is 1 when there is any. One engine takes
about five minutes with --rounds 1.
"""
import os, random, socket, struct, subprocess, sys, tempfile, time

HOST = '127.0.0.1'
findings = []


def finding(kind, data, detail):
    msg = 'FINDING [%s] bytes=%r :: %s' % (kind, data[:300] if isinstance(data, bytes) else data, detail)
    if msg not in findings:
        findings.append(msg)
        print(msg, flush=True)


# ---------------------------------------------------------------- RESP reading

class Closed(Exception):
    pass


class Reader:
    def __init__(self, sock, timeout=3.0):
        self.s = sock
        self.buf = b''
        self.timeout = timeout
        self.closed = False

    def _fill(self):
        if self.closed:
            raise Closed()
        self.s.settimeout(self.timeout)
        try:
            d = self.s.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError()
        except (ConnectionResetError, BrokenPipeError):
            d = b''
        if not d:
            self.closed = True
            raise Closed()
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b'\r\n')
            if i >= 0:
                ln, self.buf = self.buf[:i], self.buf[i + 2:]
                if b'\n' in ln or b'\r' in ln:
                    raise ValueError('bare CR/LF inside reply line %r' % ln)
                return ln
            self._fill()

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def reply(self):
        """One reply, strictly validated. Returns python value; errors as ('ERR', text)."""
        ln = self.line()
        if not ln:
            raise ValueError('empty reply line')
        t, rest = ln[:1], ln[1:]
        if t == b'+':
            return ('OK', rest)
        if t == b'-':
            return ('ERR', rest)
        if t == b':':
            if rest != str(int(rest)).encode():
                raise ValueError('bad integer %r' % rest)
            return int(rest)
        if t == b'$':
            n = resp_length(rest, 'bulk')
            if n == -1:
                return None
            d = self.exact(n + 2)
            if d[-2:] != b'\r\n':
                raise ValueError('bulk not CRLF terminated')
            return d[:-2]
        if t == b'*':
            n = resp_length(rest, 'array')
            if n == -1:
                return None
            return [self.reply() for _ in range(n)]
        raise ValueError('bad reply type byte %r in %r' % (t, ln[:80]))


def resp_length(rest, what):
    """A bulk string's or an array's length in a reply: -1 (nil) or more."""
    n = int(rest)
    if n < -1:
        raise ValueError('bad %s len %r' % (what, rest))
    return n


def enc(*args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


def conn(timeout=3.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def cmd(*args, timeout=5.0):
    s = conn()
    try:
        s.sendall(enc(*args))
        return Reader(s, timeout).reply()
    finally:
        s.close()


# ---------------------------------------------------------------- server control

class Server:
    def __init__(self, binary, preload, engine, threads, port=None):
        self.proc = None
        self.pid = None
        self.errlog = None
        if port:
            global PORT
            PORT = port
            return
        env = dict(os.environ)
        if preload:
            env['LD_PRELOAD'] = preload
        self.errpath = os.path.join(tempfile.gettempdir(), 'fuzz_kvserver_stderr_%d.log' % os.getpid())
        self.errlog = open(self.errpath, 'wb')
        self.proc = subprocess.Popen([binary, '--port', '0', '--engine', engine, '--threads', str(threads)],
                                     stdout=subprocess.PIPE, stderr=self.errlog, env=env)
        line = self.proc.stdout.readline().decode()
        if 'listening on' not in line:
            raise SystemExit('server did not start: %r' % line)
        PORT_ = int(line.split()[3].rsplit(':', 1)[1])
        globals()['PORT'] = PORT_
        self.pid = self.proc.pid

    def alive(self):
        if self.proc is None:
            return True
        return self.proc.poll() is None

    def stderr_text(self):
        if not self.errlog:
            return ''
        self.errlog.flush()
        with open(self.errpath, 'rb') as f:
            return f.read().decode(errors='replace')

    def rss_kb(self):
        if not self.pid:
            return 0
        try:
            with open('/proc/%d/status' % self.pid) as f:
                for ln in f:
                    if ln.startswith('VmRSS:'):
                        return int(ln.split()[1])
        except OSError:
            return -1
        return 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                finding('shutdown-hang', b'SIGTERM', 'server did not exit within 10 s of SIGTERM')
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            return self.proc.returncode


# ---------------------------------------------------------------- known data

KNOWN = {}


def seed():
    s = conn()
    r = Reader(s)
    strs = {
        'k:plain': b'hello world',
        'k:bin': b'\x00\r\n\xff\x01$*-+:\r\n',
        'k:num': b'12345',
        'k:empty': b'',
        'k:big': bytes(random.getrandbits(8) for _ in range(70000)),
        'k:neg': b'-9223372036854775808',
    }
    for k, v in strs.items():
        s.sendall(enc('SET', k, v)); assert r.reply() == ('OK', b'OK')
        KNOWN[k] = ('string', v)
    lst = [b'a', b'', b'\x00x\r\n', b'z' * 300]
    s.sendall(enc('RPUSH', 'k:list', *lst)); assert r.reply() == len(lst)
    KNOWN['k:list'] = ('list', lst)
    h = {b'f1': b'v1', b'f2': b'', b'\x00': b'\r\n', b'num': b'10'}
    args = []
    for f, v in h.items():
        args += [f, v]
    s.sendall(enc('HSET', 'k:hash', *args)); assert r.reply() == len(h)
    KNOWN['k:hash'] = ('hash', h)
    st = {b'm1', b'm2', b'', b'\xff\x00'}
    s.sendall(enc('SADD', 'k:set', *st)); assert r.reply() == len(st)
    KNOWN['k:set'] = ('set', st)
    z = [(b'a', b'1'), (b'b', b'2.5'), (b'c', b'-3'), (b'\x00', b'1e10')]
    args = []
    for m, sc in z:
        args += [sc, m]
    s.sendall(enc('ZADD', 'k:zset', *args)); assert r.reply() == len(z)
    KNOWN['k:zset'] = ('zset', sorted(((float(sc), m) for m, sc in z)))
    s.close()


def fmt_score(x):
    if x == int(x) and abs(x) < 2 ** 52:
        return str(int(x)).encode()
    return (b'%.17g' % x)


def verify(tag):
    ok = True
    try:
        s = conn()
        r = Reader(s, 5)
        for k, (t, v) in KNOWN.items():
            s.sendall(enc('TYPE', k)); ty = r.reply()
            s.sendall(enc('TTL', k)); ttl = r.reply()
            if ty != ('OK', t.encode()):
                finding('data-loss', tag, 'key %s type now %r (expected %s)' % (k, ty, t)); ok = False; continue
            if ttl != -1:
                finding('data-corrupt', tag, 'key %s got a TTL %r' % (k, ttl)); ok = False
            if t == 'string':
                s.sendall(enc('GET', k)); got = r.reply()
            elif t == 'list':
                s.sendall(enc('LRANGE', k, 0, -1)); got = r.reply()
            elif t == 'hash':
                s.sendall(enc('HGETALL', k)); a = r.reply()
                got = dict(zip(a[0::2], a[1::2]))
            elif t == 'set':
                s.sendall(enc('SMEMBERS', k)); got = set(r.reply())
            elif t == 'zset':
                s.sendall(enc('ZRANGE', k, 0, -1, 'WITHSCORES')); a = r.reply()
                got = [(float(sc), m) for m, sc in zip(a[0::2], a[1::2])]
            if got != v:
                finding('data-corrupt', tag, 'key %s reads %r, expected %r' % (k, got if len(repr(got)) < 200 else repr(got)[:200], v if len(repr(v)) < 200 else repr(v)[:200]))
                ok = False
        s.close()
    except Exception as e:
        finding('verify-failed', tag, 'verification raised %r' % e)
        ok = False
    return ok


def ping_fresh(tag, limit=3.0):
    t0 = time.time()
    try:
        s = conn(limit)
        s.sendall(b'PING\r\n')
        rep = Reader(s, limit).reply()
        s.close()
        if rep != ('OK', b'PONG'):
            finding('ping', tag, 'fresh PING got %r' % (rep,))
            return False
    except Exception as e:
        finding('hang', tag, 'fresh PING failed after %.1fs: %r' % (time.time() - t0, e))
        return False
    return True


# ---------------------------------------------------------------- attack driver

def attack(data, split=None, close_after=False, expect=None, wait=1.5, tag=None):
    """Send raw bytes; read every reply until close or quiet; validate.

    split: None (one send), 'byte' (one byte per send), int (chunks of that size)
    expect: None, or a callable(list_of_replies, closed) -> error string or None
    Returns (replies, closed)."""
    tag = tag if tag is not None else data
    try:
        s = conn()
    except Exception as e:
        finding('connect', tag, 'cannot connect: %r' % e)
        return [], True
    try:
        if split is None:
            s.sendall(data)
        else:
            step = 1 if split == 'byte' else split
            for i in range(0, len(data), step):
                s.sendall(data[i:i + step])
                if split == 'byte' and i % 64 == 0:
                    time.sleep(0.0005)
    except (BrokenPipeError, ConnectionResetError):
        pass
    if close_after:
        s.close()
        return [], True
    # give the server time; then read everything
    r = Reader(s, wait)
    replies, closed, bad = [], False, None
    while True:
        try:
            replies.append(r.reply())
        except TimeoutError:
            break
        except Closed:
            closed = True
            break
        except ValueError as e:
            bad = str(e)
            break
    s.close()
    if bad:
        finding('malformed-reply', tag, bad)
    for rep in replies:
        if isinstance(rep, tuple) and rep[0] == 'ERR':
            first = rep[1].split(b' ', 1)[0]
            if not first.isupper() or first not in (b'ERR', b'WRONGTYPE', b'EXECABORT', b'NOPROTO', b'OOM', b'NOSCRIPT'):
                finding('error-prefix', tag, 'error reply without a Redis code: %r' % rep[1][:120])
    if closed and not replies and r.buf == b'':
        pass  # judged by caller
    if expect:
        msg = expect(replies, closed)
        if msg:
            finding('behaviour', tag, msg + ' (replies=%r closed=%r)' % ([x if len(repr(x)) < 120 else repr(x)[:120] for x in replies[:6]], closed))
    return replies, closed


def is_proto_err(rep):
    return isinstance(rep, tuple) and rep[0] == 'ERR' and rep[1].startswith(b'ERR Protocol error')


def exp_proto_close(replies, closed):
    """Redis: -ERR Protocol error ... then close."""
    if not replies:
        return 'no reply at all (Redis answers -ERR Protocol error)' if closed else 'no reply and no close'
    if not is_proto_err(replies[-1]):
        return 'last reply is not a protocol error'
    if not closed:
        return 'connection not closed after protocol error'
    return None


def exp_n_replies(n, pred=None):
    def f(replies, closed):
        if len(replies) != n:
            return 'expected %d replies, got %d' % (n, len(replies))
        if pred:
            return pred(replies)
        return None
    return f


def exp_err_open(replies, closed):
    """Argument errors: -ERR/-WRONGTYPE, connection stays open."""
    if closed:
        return 'connection closed on an argument error (Redis keeps it open)'
    if len(replies) != 1:
        return 'expected exactly 1 reply, got %d' % len(replies)
    if not (isinstance(replies[0], tuple) and replies[0][0] == 'ERR'):
        return 'expected an error reply'
    return None


def any_open(replies, closed):
    if closed:
        return 'connection closed'
    return None


# ------------------------------------------------------------- fixed attacks

def protocol_cases():
    P = b'*1\r\n$4\r\nPING\r\n'
    C = []  # (bytes, expect, note)
    for hdr in [b'$-5', b'$99999999999999999999', b'$abc', b'$', b'$ 3', b'$+3', b'$03', b'$-0',
                b'$1.5', b'$9223372036854775807', b'$-9223372036854775808', b'$18446744073709551616',
                b'$4\x00', b'$' + b'9' * 70]:
        C.append((b'*2\r\n$3\r\nGET\r\n' + hdr + b'\r\nxxxx\r\n', exp_proto_close, 'bad bulk len'))
    for hdr in [b'*abc', b'*99999999999999999999', b'*1.0', b'*+1', b'*01', b'*-0', b'*', b'*2147483648',
                b'*9223372036854775807', b'* 1', b'*' + b'1' * 80]:
        C.append((hdr + b'\r\n$4\r\nPING\r\n', exp_proto_close, 'bad mbulk count'))
    # Redis ignores *0, *-1, *-2 silently
    for hdr in [b'*0', b'*-1', b'*-2', b'*-9223372036854775807']:
        C.append((hdr + b'\r\n' + P, exp_n_replies(1, lambda r: None if r[0] == ('OK', b'PONG') else 'not PONG'), 'empty mbulk then PING'))
    # lying counts
    C.append((b'*3\r\n$4\r\nPING\r\n', lambda r, c: None if not r and not c else 'reply to incomplete command', 'fewer items than announced'))
    # Redis reads the extra '$4' line as an inline command: -ERR unknown command '$4'
    C.append((b'*1\r\n$4\r\nPING\r\n$4\r\nPING\r\n', exp_n_replies(3), 'more items than announced'))
    C.append((b'*1048577\r\n$4\r\nPING\r\n', exp_proto_close, 'count over 1M'))
    C.append((b'*1048576\r\n$4\r\nPING\r\n', lambda r, c: None if not r else 'replied to incomplete', 'count 1M, one item'))
    # wrong type bytes in place of $
    for b0 in [b'+', b'-', b':', b'*', b'\x00', b'\r', b'\n', b'x']:
        C.append((b'*1\r\n' + b0 + b'4\r\nPING\r\n', exp_proto_close, 'wrong type byte'))
    # bare LF
    C.append((b'*1\n$4\r\nPING\r\n', exp_proto_close, 'bare LF after count'))
    C.append((b'*1\r\n$4\nPING\r\n', exp_proto_close, 'bare LF after bulk len'))
    C.append((b'*1\r\n$4\r\nPING\n\n', None, 'bare LF after bulk data (Redis skips 2 bytes, answers PONG)'))
    C.append((b'*1\r\n$4\r\nPINGxx' + P, None, 'garbage CRLF after bulk data'))
    C.append((b'PING\n', exp_n_replies(1), 'inline bare LF'))
    C.append((b'PING\r\n', exp_n_replies(1), 'inline'))
    C.append((b'PING\r\r\n', exp_n_replies(1), 'inline CRCR'))
    C.append((b'\r\n\r\n\n\nPING\r\n', exp_n_replies(1), 'blank inline lines'))
    C.append((b'   \t  \r\nPING\r\n', exp_n_replies(1), 'whitespace inline'))
    C.append((b'SET "a b\r\n', exp_proto_close, 'unbalanced quote'))
    C.append((b"SET 'a b\r\n", exp_proto_close, 'unbalanced squote'))
    C.append((b'SET "a"b c\r\n', exp_proto_close, 'quote followed by non-space'))
    C.append((b'ECHO "\\x4\r\n', exp_proto_close, 'half hex escape'))
    C.append((b'ECHO "\\x41\\x\\"\r\n', None, 'escapes'))
    C.append((b'ECHO "\\\r\n', exp_proto_close, 'backslash at end in quotes'))
    C.append((b'ECHO "\xff\x00zz"\r\n', None, 'NUL in inline'))
    C.append((b'\x00\x00\x00\r\nPING\r\n', None, 'NULs inline'))
    C.append((b'PING\x00junk\r\n', exp_n_replies(1), 'NUL after word'))
    C.append((b'ECHO ""\r\n', exp_n_replies(1, lambda r: None if r[0] == b'' else 'not empty bulk'), 'empty quoted arg'))
    C.append((b"ECHO ''\r\n", exp_n_replies(1, lambda r: None if r[0] == b'' else 'not empty bulk'), 'empty squoted arg'))
    C.append((b'"" \r\n', exp_n_replies(1), 'empty command name'))
    C.append((b'*1\r\n$0\r\n\r\n', exp_err_open, 'empty command name multibulk'))
    C.append((b'*2\r\n$0\r\n\r\n$0\r\n\r\n', exp_err_open, 'empty args'))
    C.append((b'A' * 70000, exp_proto_close, 'long inline without newline'))
    C.append((b'A' * 65535 + b'\r\n', exp_err_open, 'inline just under limit'))
    C.append((b'A' * 65537 + b'\r\n', exp_proto_close, 'inline just over limit'))
    C.append((b'*1\r\n' + b'$' + b'1' * 100, exp_proto_close, 'long bulk header'))
    C.append((b'*' + b'1' * 100, exp_proto_close, 'long mbulk header no CRLF'))
    C.append((b'*1\r\n$70000000\r\n' + b'x' * 1000, exp_proto_close, 'bulk over max-request'))
    C.append((P * 200, exp_n_replies(200), 'pipelined 200'))
    C.append((b'PING\r\n' * 50 + P * 50, exp_n_replies(100), 'mixed pipeline'))
    C.append((P + b'*1\r\n$x\r\n' + P, lambda r, c: None if len(r) == 2 and is_proto_err(r[1]) and c else 'unexpected', 'error mid pipeline'))
    C.append((b'*2\r\n$4\r\nECHO\r\n$5\r\n\r\n\r\n\r\r\n', exp_n_replies(1), 'CRLF inside bulk'))
    C.append((b'*-1\r\n' * 1000 + P, exp_n_replies(1), 'many null arrays'))
    C.append((b'*0\r\n' * 1000 + b'\r\n' * 1000 + P, exp_n_replies(1), 'many empty'))
    C.append((b'MULTI\r\nPING\r\n*1\r\n$x\r\n', lambda r, c: None if is_proto_err(r[-1]) and c else 'unexpected', 'proto error in MULTI'))
    C.append((b'QUIT\r\nPING\r\n', lambda r, c: None if r == [('OK', b'OK')] and c else 'unexpected', 'quit then ping'))
    return C


def arg_cases():
    """Commands with wrong arity / wrong-type arguments against known + scratch keys.
    Each: (args, expectation). Expectation: 'err' (error, conn open), 'any', or a value."""
    E, A = 'err', 'any'
    big = '9223372036854775808'
    return [
        (['GET'], E), (['GET', 'a', 'b'], E), (['SET', 'x'], E), (['SET'], E),
        (['INCR', 'k:plain'], E), (['INCR', 'k:list'], E), (['INCRBY', 'f:n', big], E),
        (['INCRBY', 'f:n', '-9223372036854775809'], E), (['INCRBY', 'f:n', '1e3'], E),
        (['INCRBY', 'f:n', ' 1'], E), (['INCRBY', 'f:n', '01'], E), (['INCRBY', 'f:n', '-0'], E),
        (['INCRBY', 'f:n', '+1'], E), (['INCRBY', 'f:n', ''], E),
        (['DECRBY', 'k:neg', '1'], E), (['DECRBY', 'f:n', '-9223372036854775808'], E),
        (['INCRBYFLOAT', 'k:plain', '1'], E), (['INCRBYFLOAT', 'f:f', 'nan'], E), (['INCRBYFLOAT', 'f:f', 'inf'], E),
        (['INCRBYFLOAT', 'f:f', '1e5000'], E), (['INCRBYFLOAT', 'f:f', 'x' * 6000], E),
        (['HINCRBYFLOAT', 'k:hash', 'f1', '1'], E), (['HINCRBY', 'k:hash', 'f1', '1'], E),
        (['HINCRBY', 'k:hash', 'num', big], E), (['HINCRBYFLOAT', 'f:h', 'a', 'inf'], E),
        (['LPUSH', 'k:plain', 'x'], E), (['SADD', 'k:list', 'x'], E), (['HSET', 'k:set', 'a', 'b'], E),
        (['ZADD', 'k:hash', '1', 'a'], E), (['ZADD', 'k:zset', 'nan', 'a'], E), (['ZADD', 'k:zset', 'x', 'a'], E),
        (['ZADD', 'k:zset', '1'], E), (['ZADD', 'k:zset', '1', 'a', '2'], E), (['ZADD', 'k:zset', 'NX', 'XX', '1', 'a'], E),
        (['ZADD', 'k:zset', 'GT', 'LT', '1', 'a'], E), (['ZADD', 'k:zset', 'INCR', '1', 'a', '2', 'b'], E),
        (['ZINCRBY', 'k:zset', 'nan', 'a'], E), (['ZINCRBY', 'k:zset', 'abc', 'a'], E),
        (['HSET', 'k:hash', 'a'], E), (['HMSET', 'k:hash', 'a', 'b', 'c'], E), (['MSET', 'a'], E), (['MSET', 'k:plain', 'x', 'y'], E),
        (['LRANGE', 'k:list', '-9223372036854775808', '9223372036854775807'], A),
        (['LRANGE', 'k:list', '9223372036854775807', '-9223372036854775808'], A),
        (['LRANGE', 'k:list', big, '1'], E), (['LRANGE', 'k:list', 'a', '1'], E),
        (['LINDEX', 'k:list', '-9223372036854775808'], A), (['LINDEX', 'k:list', '9223372036854775807'], A),
        (['LSET', 'k:list', '-9223372036854775808', 'x'], E), (['LSET', 'k:list', '99', 'x'], E), (['LSET', 'k:list', 'z', 'x'], E),
        (['LPOP', 'k:list', '-1'], E), (['LPOP', 'k:list', big], E), (['RPOP', 'k:list', 'x'], E), (['LPOP', 'k:list', '1', '2'], E),
        (['SPOP', 'k:set', '-1'], E), (['ZPOPMIN', 'k:zset', '-5'], E), (['ZPOPMAX', 'k:zset', 'x'], E),
        (['SRANDMEMBER', 'k:set', '-9223372036854775808'], E), (['SRANDMEMBER', 'k:set', '9223372036854775807'], A),
        (['SRANDMEMBER', 'k:set', '-5'], A), (['SRANDMEMBER', 'k:set', 'x'], E),
        (['ZRANGE', 'k:zset', '-9223372036854775808', '9223372036854775807'], A),
        (['ZRANGE', 'k:zset', '9223372036854775807', '-9223372036854775808', 'REV'], A),
        (['ZRANGE', 'k:zset', '0', '-1', 'REV', 'WITHSCORES'], A),
        (['ZRANGE', 'k:zset', '-inf', '+inf', 'BYSCORE', 'LIMIT', '-9223372036854775808', '9223372036854775807'], A),
        (['ZRANGE', 'k:zset', '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', '0', '-1'], A),
        (['ZRANGE', 'k:zset', '(x', '1', 'BYSCORE'], E), (['ZRANGE', 'k:zset', 'nan', '1', 'BYSCORE'], E),
        (['ZRANGE', 'k:zset', '0', '1', 'LIMIT', '0', '1'], E), (['ZRANGE', 'k:zset', '0', '1', 'BYLEX'], E),
        (['ZRANGE', 'k:zset', '0', '1', 'LIMIT'], E), (['ZRANGEBYSCORE', 'k:zset', '(', '1'], E),
        (['ZRANGEBYSCORE', 'k:zset', '-inf', '+inf', 'LIMIT', '1'], E),
        (['ZREVRANGEBYSCORE', 'k:zset', '+inf', '-inf', 'LIMIT', '2', '-1', 'WITHSCORES'], A),
        (['ZCOUNT', 'k:zset', 'x', '1'], E), (['ZREVRANGE', 'k:zset', '-1', '-9223372036854775808'], A),
        (['EXPIRE', 'k:plain', big], E), (['EXPIRE', 'k:plain', '9223372036854775807'], E),
        (['EXPIRE', 'k:plain', '-9223372036854775808'], E), (['PEXPIRE', 'k:plain', '9223372036854775807'], E),
        (['EXPIRE', 'k:plain', 'x'], E), (['EXPIRE', 'k:plain', '10', 'NX', 'XX'], E), (['EXPIRE', 'k:plain', '10', 'GT', 'LT'], E),
        (['EXPIRE', 'k:plain', '10', 'FOO'], E), (['EXPIREAT', 'k:plain', '9223372036854775807'], E),
        (['SET', 'k:plain', 'x', 'EX', '0'], E), (['SET', 'k:plain', 'x', 'EX', '-1'], E),
        (['SET', 'k:plain', 'x', 'EX', big], E), (['SET', 'k:plain', 'x', 'EX', '9223372036854775807'], E),
        (['SET', 'k:plain', 'x', 'PX', '9223372036854775807'], E), (['SET', 'k:plain', 'x', 'EX'], E),
        (['SET', 'k:plain', 'x', 'EX', '1', 'PX', '1'], E), (['SET', 'k:plain', 'x', 'NX', 'XX'], E),
        (['SET', 'k:plain', 'x', 'KEEPTTL', 'EX', '1'], E), (['SET', 'k:plain', 'x', 'FOO'], E),
        (['SET', 'k:list', 'x', 'GET'], E), (['GETEX', 'k:plain', 'EX', '-1'], E), (['GETEX', 'k:plain', 'EX', big], E),
        (['GETEX', 'k:plain', 'PXAT', '0'], E), (['GETEX', 'k:plain', 'PERSIST', 'EX', '1'], E),
        (['SETEX', 'k:plain', '0', 'x'], E), (['SETEX', 'k:plain', '-10', 'x'], E), (['PSETEX', 'k:plain', '9223372036854775807', 'x'], E),
        (['SETRANGE', 'k:plain', '-1', 'x'], E), (['SETRANGE', 'k:plain', '536870912', 'x'], E),
        (['SETRANGE', 'k:plain', '9223372036854775807', 'x'], E), (['SETRANGE', 'k:list', '0', 'x'], E),
        (['GETRANGE', 'k:plain', '-9223372036854775808', '9223372036854775807'], A),
        (['GETRANGE', 'k:big', '9223372036854775807', '-9223372036854775808'], A),
        (['GETRANGE', 'k:plain', 'a', '1'], E), (['APPEND', 'k:list', 'x'], E),
        (['LTRIM', 'k:list', 'x', '1'], E), (['LREM', 'k:list', 'x', 'a'], E), (['LREM', 'k:list', '-9223372036854775808', 'nope'], A),
        (['SCAN', 'x'], E), (['SCAN', '0', 'COUNT', '0'], E), (['SCAN', '0', 'COUNT', '-1'], E), (['SCAN', '0', 'COUNT'], E),
        (['SCAN', '18446744073709551615'], E), (['SCAN', '18446744073709551616'], E), (['SCAN', '0', 'FOO', 'bar'], E),
        (['SCAN', '0', 'COUNT', '9223372036854775807'], A), (['SCAN', '-1'], E),
        (['KEYS', '[' * 1000], A), (['KEYS', '*' * 5000 + 'x'], A), (['KEYS', '[^-]'], A), (['KEYS', '\\'], A), (['KEYS', '[a-'], A),
        (['SELECT', '1'], E), (['SELECT', 'x'], E), (['SELECT', big], E),
        (['RENAME', 'f:nokey', 'x'], E), (['RENAMENX', 'f:nokey', 'x'], E),
        (['COPY', 'k:plain', 'k:plain'], E), (['COPY', 'k:plain', 'k:list'], A), (['COPY', 'k:plain', 'f:c', 'DB', 'x'], E),
        (['COPY', 'k:plain', 'f:c', 'DB', '1'], E), (['COPY', 'k:plain', 'f:c', 'DB'], E),
        (['CLIENT', 'SETNAME', 'a b'], E), (['CLIENT', 'SETNAME', 'a\nb'], E), (['CLIENT', 'FOO'], E), (['CLIENT'], E),
        (['CONFIG', 'SET', 'a'], E), (['CONFIG', 'GET'], E), (['CONFIG', 'FOO\r\n'], E), (['CONFIG', 'GET', '[' * 500], A),
        (['HELLO', '3'], E), (['HELLO', 'x'], E), (['HELLO', '2', 'AUTH', 'a', 'b'], E), (['HELLO', '2', 'SETNAME'], E),
        (['HELLO', '2', 'SETNAME', 'a b'], E),
        (['COMMAND', 'FOO'], E), (['COMMAND', 'COUNT', 'x'], E), (['SHUTDOWN', 'ABORT'], E), (['SHUTDOWN', 'FOO'], E),
        (['SHUTDOWN', 'ABORT', 'NOSAVE'], E),
        (['FLUSHALL', 'foo'], E), (['FLUSHDB', 'ASYNC', 'x'], E),
        (['NOSUCHCMD'], E), (['NOSUCHCMD', 'a\r\nb', '\x00'], E), (['x' * 200, 'y' * 300], E), (['\r\n'], E),
        (['PING', 'a', 'b'], E), (['ECHO'], E), (['EXEC'], E), (['DISCARD'], E), (['TYPE'], E), (['SMISMEMBER', 'k:set'], E),
        (['ZMSCORE', 'k:zset'], E), (['HMGET', 'k:hash'], E), (['INFO', 'x' * 1000], A), (['INFO', 'all', 'everything', 'keyspace'], A),
        (['OBJECT', 'ENCODING', 'k:plain'], E), (['SUBSTR', 'k:plain', '0', 'x'], E), (['TIME', 'x'], E),
        (['DBSIZE', 'x'], E), (['RANDOMKEY', 'x'], E), (['GETDEL', 'k:list'], E), (['GETSET', 'k:list', 'x'], E),
        (['STRLEN', 'k:list'], E), (['HSTRLEN', 'k:plain', 'x'], E), (['ZSCORE', 'k:set', 'x'], E),
        (['ZRANK', 'k:set', 'x'], E), (['SISMEMBER', 'k:zset', 'x'], E), (['LLEN', 'k:hash'], E),
        (['MSETNX', 'k:plain', 'x', 'k:num'], E), (['PERSIST'], E), (['TTL', 'a', 'b'], E),
        (['WATCH'], E), (['EXPIRETIME'], E),
    ]


def run_arg_cases(srv):
    for args, exp in arg_cases():
        data = enc(*args)
        if exp == 'err':
            attack(data, expect=exp_err_open, tag=data, wait=1.0)
        else:
            attack(data, expect=lambda r, c: 'connection closed / no reply' if c or len(r) != 1 else None, tag=data, wait=2.0)
    # inside MULTI: wrong arity queued -> EXECABORT; runtime errors inside EXEC
    attack(b'MULTI\r\nGET\r\nEXEC\r\n', expect=exp_n_replies(3, lambda r: None if r[2][0] == 'ERR' and r[2][1].startswith(b'EXECABORT') else 'EXEC did not abort'))
    attack(enc('MULTI') + enc('INCR', 'k:plain') + enc('LPUSH', 'k:plain', 'x') + enc('GET', 'k:plain') + enc('EXEC'),
           expect=exp_n_replies(5, lambda r: None if isinstance(r[4], list) and len(r[4]) == 3 else 'bad EXEC reply'))
    attack(b'MULTI\r\nMULTI\r\nEXEC\r\n', expect=exp_n_replies(3))
    attack(b'MULTI\r\nWATCH a\r\nSHUTDOWN ABORT\r\nDISCARD\r\n', expect=exp_n_replies(4))
    attack(b'WATCH k:plain k:list\r\nMULTI\r\nPING\r\nEXEC\r\nWATCH a\r\nWATCH a\r\nUNWATCH\r\n', expect=exp_n_replies(7))
    # queue many commands then disconnect
    attack(b'MULTI\r\n' + b'SET f:q x\r\n' * 2000, close_after=True)
    attack(b'WATCH k:plain f:w1 f:w2\r\nMULTI\r\nSET f:q y\r\n', close_after=True)


def rand_garbage(rng):
    """Randomised malformed requests built from mutations of valid ones."""
    pieces = [b'*', b'$', b'\r\n', b'\n', b'\r', b'\x00', b'-1', b'-5', b'0', b'1', b'2', b'3', b'99999999999999999999',
              b'abc', b'PING', b'SET', b'GET', b'"', b"'", b'\\x', b' ', b'\t', b'ECHO', b'INCR', b'k:plain', b'k:list',
              b'MULTI', b'EXEC', b'+', b':', b'-', b'9223372036854775807', b'-9223372036854775808', b'\xff']
    kind = rng.random()
    if kind < 0.4:
        return b''.join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
    # mutate a valid request
    safe_cmds = [['PING'], ['ECHO', 'hello'], ['GET', 'k:plain'], ['SET', 'f:x', 'v'], ['LRANGE', 'k:list', '0', '-1'],
                 ['HGETALL', 'k:hash'], ['INCR', 'f:ctr'], ['ZRANGE', 'k:zset', '0', '-1', 'WITHSCORES'],
                 ['SMEMBERS', 'k:set'], ['MGET', 'k:plain', 'k:num', 'k:list'], ['EXISTS', 'k:plain']]
    data = bytearray(enc(*rng.choice(safe_cmds)))
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        i = rng.randrange(len(data) + 1)
        if op == 0 and data:
            del data[min(i, len(data) - 1)]
        elif op == 1:
            data[i:i] = rng.choice(pieces)
        elif op == 2 and data:
            data[min(i, len(data) - 1)] = rng.randrange(256)
        elif op == 3:
            data = data[:i]
        else:
            data[i:i] = bytes(data[:rng.randrange(len(data) + 1)])
    return bytes(data)


def rand_command(rng):
    """Random command from the table with hostile arguments; only scratch keys
    (f:*) for commands that may write; known keys for read-only ones."""
    vals = ['0', '-1', '1', '9223372036854775807', '-9223372036854775808', '9223372036854775808', 'nan', 'inf', '-inf',
            '+inf', '(1', '(', '1e308', '1e309', '', 'x' * rng.choice([1, 100, 5000]), '\x00', '\r\n', '*', '[', '\\',
            'WITHSCORES', 'LIMIT', 'REV', 'BYSCORE', 'EX', 'PX', 'NX', 'XX', 'GT', 'LT', 'KEEPTTL', 'GET', 'COUNT',
            'MATCH', 'TYPE', '3.5', '-0', '01', ' 1']
    write_cmds = ['SET', 'GETSET', 'SETNX', 'SETEX', 'PSETEX', 'GETDEL', 'GETEX', 'APPEND', 'SETRANGE', 'MSET', 'MSETNX',
                  'INCR', 'DECR', 'INCRBY', 'DECRBY', 'INCRBYFLOAT', 'EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT',
                  'PERSIST', 'RENAME', 'RENAMENX', 'COPY', 'DEL', 'UNLINK', 'LPUSH', 'RPUSH', 'LPUSHX', 'RPUSHX',
                  'LPOP', 'RPOP', 'LSET', 'LTRIM', 'LREM', 'HSET', 'HMSET', 'HSETNX', 'HDEL', 'HINCRBY',
                  'HINCRBYFLOAT', 'SADD', 'SREM', 'SPOP', 'ZADD', 'ZINCRBY', 'ZREM', 'ZPOPMIN', 'ZPOPMAX']
    read_cmds = ['GET', 'MGET', 'STRLEN', 'GETRANGE', 'SUBSTR', 'TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME', 'TYPE',
                 'EXISTS', 'TOUCH', 'LLEN', 'LINDEX', 'LRANGE', 'HGET', 'HMGET', 'HLEN', 'HSTRLEN', 'HGETALL',
                 'HKEYS', 'HVALS', 'HEXISTS', 'SCARD', 'SMEMBERS', 'SISMEMBER', 'SMISMEMBER', 'SRANDMEMBER',
                 'ZSCORE', 'ZMSCORE', 'ZCARD', 'ZRANGE', 'ZREVRANGE', 'ZRANGEBYSCORE', 'ZREVRANGEBYSCORE', 'ZRANK',
                 'ZREVRANK', 'ZCOUNT', 'KEYS', 'SCAN', 'DBSIZE', 'RANDOMKEY', 'ECHO', 'PING', 'TIME', 'INFO',
                 'CONFIG', 'CLIENT', 'COMMAND', 'HELLO', 'SELECT']
    if rng.random() < 0.5:
        name = rng.choice(write_cmds)
        key = rng.choice(['f:s', 'f:l', 'f:h', 'f:z', 'f:t', 'f:n'])
    else:
        name = rng.choice(read_cmds)
        key = rng.choice(list(KNOWN) + ['f:s', 'f:l', 'f:z'])
    args = [name if rng.random() < 0.8 else name.lower()]
    if rng.random() < 0.9:
        args.append(key)
    for _ in range(rng.randint(0, 6)):
        v = rng.choice(vals)
        if rng.random() < 0.2 and name in read_cmds:
            v = rng.choice(list(KNOWN))
        args.append(v)
    if name in ('SRANDMEMBER',) and len(args) > 2:
        # avoid asking for 10^18 results: that is a memory bomb in Redis too
        try:
            if abs(int(args[2])) > 100000:
                args[2] = '-3'
        except ValueError:
            pass
    if name in ('RENAME', 'RENAMENX', 'COPY') and len(args) > 2:
        args[2] = 'f:dst'  # never overwrite known keys
    if name in ('MSET', 'MSETNX'):
        args = [name] + [a if i % 2 else 'f:m%d' % i for i, a in enumerate(args[1:])]
    return enc(*args)


def validate_cmd_replies(replies, closed):
    if closed:
        return 'connection closed by a well-framed command'
    if len(replies) != 1:
        return 'expected exactly one reply, got %d' % len(replies)
    return None


# ----------------------------------------------------------- concurrency

def concurrency(srv, rng):
    socks = []
    # many connections, some half-sent
    half = [b'*3\r\n$3\r\nSET\r\n$3\r\nf:a\r\n$100\r\nabc', b'*2\r\n$4\r\nECHO', b'PING', b'SET "abc',
            b'*1048576\r\n', b'*2\r\n$3\r\nGET\r\n$67108000\r\n' + b'x' * 65536]
    for i in range(300):
        try:
            s = conn()
            if i % 3 == 0:
                s.sendall(rng.choice(half))
            socks.append(s)
        except Exception as e:
            finding('connect', b'<300 connections>', 'connection %d failed: %r' % (i, e))
            break
    ping_fresh(b'<300 idle/half-sent connections>')
    # a slow client that never reads a big reply
    try:
        s = conn()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(enc('GET', 'k:big') * 400)
        socks.append(s)
    except Exception:
        pass
    ping_fresh(b'<client not reading 28MB of replies>')
    verify(b'<concurrency>')
    for s in socks:
        s.close()
    time.sleep(0.3)
    ping_fresh(b'<after closing 300 connections>')


# ----------------------------------------------------------------- main

def main():
    import argparse
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument('--bin', default=os.path.join(root, 'build', 'engines', 'kvserver'))
    ap.add_argument('--preload', default=None)
    ap.add_argument('--engine', default='hash')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--rounds', type=int, default=30)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--port', type=int, default=0)
    o = ap.parse_args()
    rng = random.Random(o.seed)
    random.seed(o.seed)
    srv = Server(o.bin, o.preload, o.engine, o.threads, o.port or None)
    print('server pid=%s port=%d engine=%s preload=%s' % (srv.pid, PORT, o.engine, o.preload), flush=True)
    rss = []
    try:
        seed()
        verify(b'<after seed>')
        rss.append(srv.rss_kb())

        def checkpoint(tag):
            if not srv.alive():
                finding('crash', tag, 'server exited rc=%s stderr=%r' % (srv.proc.returncode, srv.stderr_text()[-500:]))
                raise SystemExit(1)
            ping_fresh(tag)
            verify(tag)

        print('-- protocol cases', flush=True)
        for data, exp, note in protocol_cases():
            for split in (None, 'byte', 7):
                if split == 'byte' and len(data) > 5000:
                    continue
                attack(data, split=split, expect=exp, tag=(note, split, data[:120]))
            attack(data[:max(1, len(data) // 2)], close_after=True)
            if not srv.alive():
                checkpoint((note, data[:120]))
        checkpoint(b'<protocol cases>')
        print('-- argument cases', flush=True)
        run_arg_cases(srv)
        checkpoint(b'<arg cases>')
        print('-- concurrency', flush=True)
        concurrency(srv, rng)
        checkpoint(b'<concurrency>')
        print('-- random rounds', flush=True)
        for rnd in range(o.rounds):
            for _ in range(60):
                data = rand_garbage(rng)
                split = rng.choice([None, None, 'byte', rng.randint(2, 9)])
                attack(data, split=split, wait=0.3, close_after=rng.random() < 0.1)
                if not srv.alive():
                    checkpoint(data)
            s = conn()
            r = Reader(s, 5)
            for _ in range(150):
                data = rand_command(rng)
                s.sendall(data)
                try:
                    r.reply()
                except Exception as e:
                    finding('cmd', data, 'well-framed command: %r' % e)
                    s.close()
                    s = conn()
                    r = Reader(s, 5)
                if not srv.alive():
                    checkpoint(data)
            s.close()
            checkpoint(('round', rnd))
            rss.append(srv.rss_kb())
            print('round %d rss=%d kB' % (rnd, rss[-1]), flush=True)
        # leak check: repeat a fixed attack set and watch RSS
        print('-- leak check', flush=True)
        leak_set = [d for d, _, _ in protocol_cases()] + [enc(*a) for a, _ in arg_cases()]
        base = None
        for rep in range(6):
            for d in leak_set:
                attack(d, wait=0.05)
            checkpoint(('leak', rep))
            rss.append(srv.rss_kb())
            if rep == 1:
                base = rss[-1]
            print('leak rep %d rss=%d kB' % (rep, rss[-1]), flush=True)
        if base and rss[-1] > base * 1.5 + 20000:
            finding('leak', b'<repeated attack set>', 'RSS grew %d -> %d kB over 4 repeats' % (base, rss[-1]))
    finally:
        rc = srv.stop()
        err = srv.stderr_text()
        if srv.errlog:
            srv.errlog.close()
            os.remove(srv.errpath)
        if err.strip():
            finding('stderr', b'', 'server stderr: %r' % err[-800:])
        if srv.proc is not None and rc not in (0, None):
            finding('exit', b'', 'server exit status %s on SIGTERM' % rc)
        print('RSS series (kB):', rss)
        print('%d findings' % len(findings))
    return 1 if findings else 0


if __name__ == '__main__':
    PORT = 0
    sys.exit(main())
