#!/usr/bin/env python3
"""fabricd-protocol.py FABRICD: host test of fabricd, with Python clients in
place of QEMU's ivshmem-doorbell device (docs/lab.md, "fabricd").

Checks, in order: the setup messages of a first and a second client (version,
id, region fd of the right size and layout magic, peers' vectors, own
vectors) and the announcement of the second to the first; a doorbell from one
client reaches the other through fabricd and is counted; drop-to and
drop-from drop and count; bad control input gets an error line; `next`
chooses the id of the next connection; a client that disconnects is not
announced, and when its id connects again the peer's old vectors reach it;
`cut` disconnects; SIGTERM removes the sockets, the pid file and the region.
Exits 0 when every check passed, 1 with the failed check otherwise.
"""
import mmap
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

VECTORS = 2
MAGIC = 0x4241464D454D5058  # "XPMEMFAB", transport/region.h


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def recv_msg(sock, timeout=5.0):
    """One protocol message: (int64 value, fd or None)."""
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        fail('no message within %.0f s' % timeout)
    data, anc, _, _ = sock.recvmsg(8, socket.CMSG_SPACE(4))
    if len(data) != 8:
        fail('short message (%d bytes): server closed?' % len(data))
    fd = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fd = struct.unpack('i', payload[:4])[0]
    return struct.unpack('<q', data)[0], fd


def no_message(sock, wait=0.3):
    r, _, _ = select.select([sock], [], [], wait)
    return not r


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def setup(sock, want_id, peers, shm_size):
    """Reads the setup sequence; returns {peer: [fds]} and own fds."""
    v, fd = recv_msg(sock)
    if v != 0 or fd is not None:
        fail('first message is not version 0 without fd: %r %r' % (v, fd))
    v, fd = recv_msg(sock)
    if v != want_id or fd is not None:
        fail('second message: id %r (fd %r), expected %d' % (v, fd, want_id))
    v, fd = recv_msg(sock)
    if v != -1 or fd is None:
        fail('third message is not -1 with the region fd')
    if os.fstat(fd).st_size != shm_size:
        fail('region size %d, expected %d' % (os.fstat(fd).st_size, shm_size))
    with mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ) as m:
        if struct.unpack('<Q', m[:8])[0] != MAGIC:
            fail('region header has no layout magic')
    os.close(fd)
    got = {}
    for p in peers + [want_id]:
        for _ in range(VECTORS):
            v, fd = recv_msg(sock)
            if v != p or fd is None:
                fail('expected id %d with an eventfd, got %r %r' % (p, v, fd))
            got.setdefault(p, []).append(fd)
    if not no_message(sock):
        fail('unexpected extra setup message')
    return got


def ctl(path, *words):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall((' '.join(words) + '\n').encode())
    out = b''
    while not (out.endswith(b'ok\n') or b'error: ' in out and out.endswith(b'\n')):
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    s.close()
    return out.decode()


def stat(path, pid, key):
    for line in ctl(path, 'stats').splitlines():
        w = line.split()
        if w[:2] == ['id', str(pid)]:
            return int(w[w.index(key) + 1])
    fail('no stats line for id %d' % pid)


def ring(fd):
    os.write(fd, struct.pack('<Q', 1))


def rung(fd, timeout=2.0):
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return False
    os.read(fd, 8)
    return True


def main():
    fabricd = sys.argv[1]
    d = tempfile.mkdtemp(prefix='fabricd-test-')
    sock_path, ctl_path = d + '/s', d + '/c'
    region, pidfile = d + '/region', d + '/pid'
    size = 1 << 20
    proc = subprocess.Popen([fabricd, '--socket', sock_path, '--control', ctl_path,
                             '--shm', region, '--shm-size', str(size), '--parts', '3',
                             '--vectors', str(VECTORS), '--pidfile', pidfile],
                            stderr=open(d + '/log', 'w'))
    try:
        for _ in range(100):
            if os.path.exists(pidfile):
                break
            time.sleep(0.05)
        else:
            fail('fabricd did not start: ' + open(d + '/log').read())

        a = connect(sock_path)
        fa = setup(a, 0, [], size)
        b = connect(sock_path)
        fb = setup(b, 1, [0], size)
        # A hears of B: B's id VECTORS times with fds.
        fa[1] = []
        for _ in range(VECTORS):
            v, fd = recv_msg(a)
            if v != 1 or fd is None:
                fail('announcement of 1 to 0: %r %r' % (v, fd))
            fa[1].append(fd)
        print('ok: setup sequences and announcement')

        ring(fa[1][1])                      # A rings B's vector 1
        if not rung(fb[1][1]):
            fail('doorbell 0 -> 1 vector 1 not delivered')
        if rung(fb[1][0], 0.2):
            fail('doorbell arrived on the wrong vector')
        ring(fb[0][0])                      # B rings A's vector 0
        if not rung(fa[0][0]):
            fail('doorbell 1 -> 0 not delivered')
        if stat(ctl_path, 1, 'delivered') != 1 or stat(ctl_path, 0, 'rung') != 1:
            fail('stats do not count the doorbell: ' + ctl(ctl_path, 'stats'))
        print('ok: doorbells forwarded and counted')

        for cmd, target in (('drop-to', '1'), ('drop-from', '0')):
            if not ctl(ctl_path, cmd, target, 'on').endswith('ok\n'):
                fail(cmd + ' refused')
            before = stat(ctl_path, 1, 'dropped')
            ring(fa[1][0])
            if rung(fb[1][0], 0.5):
                fail(cmd + ': doorbell delivered anyway')
            if stat(ctl_path, 1, 'dropped') != before + 1:
                fail(cmd + ': drop not counted')
            ctl(ctl_path, cmd, target, 'off')
        print('ok: drop-to and drop-from')

        for bad in ('bogus', 'drop-to 9 on', 'drop-to 1 maybe', 'cut', 'cut x', ''):
            if not ctl(ctl_path, *bad.split()).startswith('error: '):
                fail('control input %r not refused' % bad)
        print('ok: bad control input refused')

        # B goes away: A hears nothing; B comes back as id 1 (next), and
        # A's old vectors for 1 reach the new B.
        b.close()
        if not no_message(a, 0.5):
            fail('a disconnect was announced')
        for _ in range(50):
            if stat(ctl_path, 1, 'connected') == 0:
                break
            time.sleep(0.05)
        else:
            fail('fabricd did not notice the disconnect')
        if not ctl(ctl_path, 'next', '1').endswith('ok\n'):
            fail('next 1 refused')
        b = connect(sock_path)
        fb = setup(b, 1, [0], size)
        if not no_message(a, 0.3):
            fail('the returning id was announced again to a peer that holds its vectors')
        ring(fa[1][0])
        if not rung(fb[1][0]):
            fail('old vectors do not reach the restarted id')
        print('ok: reconnect under the same id, peers keep their vectors')

        c = connect(sock_path)
        setup(c, 2, [0, 1], size)
        if not ctl(ctl_path, 'cut', '2').endswith('ok\n'):
            fail('cut 2 refused')
        c.settimeout(2)
        if c.recv(8) != b'':
            fail('cut did not close the connection')
        if stat(ctl_path, 2, 'connected') != 0:
            fail('cut 2 still connected')
        print('ok: cut')

        proc.send_signal(signal.SIGTERM)
        if proc.wait(timeout=5) != 0:
            fail('fabricd exited %d on SIGTERM' % proc.returncode)
        left = [p for p in (sock_path, ctl_path, region, pidfile) if os.path.exists(p)]
        if left:
            fail('left behind after SIGTERM: %s' % left)
        a.settimeout(2)
        while True:
            chunk = a.recv(64)
            if not chunk:
                break
        print('ok: SIGTERM: clean exit, sockets, pid file and region removed')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print('PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())
