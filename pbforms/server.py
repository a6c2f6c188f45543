"""The server of `python app.py`: waitress, set for a township's or a small
county's users on one machine, answering a quick 503 page past its limit.

Each browser keeps its connection open between autosaves (keep-alive), so
the number of open connections is about the number of users with the form
open, not the number of requests at a time. Waitress's default limit of
100 connections turned user 101 away; worse, past the limit waitress stops
accepting, so a new connection waits unanswered in the listen queue until
another closes (minutes: an idle connection is closed after 120 s). Here a
connection past the limit is accepted, told 503 with a short Chinese page,
and closed, so the browser shows at once that the server is full.

The limits, and why:
- Windows: waitress waits on its sockets with select(), which in Python on
  Windows takes at most 512 sockets. Those are the connections, the
  listening socket and waitress's wake-up socket (two per listening
  address), and the refusals under way: 500 + REFUSALS_AT_ONCE (8) + 4.
- Elsewhere: poll(), which has no such limit, and 1000 connections, with
  the open-file limit raised to fit (each connection is a file descriptor,
  up to three while a large body is buffered in temporary files).
- THREADS: the requests worked on at a time. Python runs one thread at a
  time, so more threads do not make pages faster; they keep quick requests
  (an autosave takes a few ms) from queueing behind slow ones (a login's
  password hash, a Word document, an export) or behind a save waiting for
  SQLite's write lock. 16 leaves half of each process's 32 pooled database
  connections (pbforms/db.py) for export jobs' threads.
- RECV_BYTES: how much of a request one read takes. Each turn of waitress's
  event loop looks at every open connection (500 users: 500 of them), and
  an autosave's body (the whole page, about 27 KB) took four turns at
  waitress's default of 8 KB; now one.
"""
import logging
import math
import socket
import sys
import time

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

log = logging.getLogger(__name__)

WINDOWS = sys.platform == "win32"
CONNECTION_LIMIT = 500 if WINDOWS else 1000
THREADS = 16
REFUSALS_AT_ONCE = 8  # refusals being answered at a time; more wait in the listen queue a moment
REFUSAL_SECONDS = 5  # a refused client that neither sends nor closes is cut off after this
RETRY_AFTER = 10  # seconds
RECV_BYTES = 65536

REFUSAL_PAGE = f"""<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{RETRY_AFTER}"><title>服务器繁忙 · 党建述职填报</title></head>
<body>
<h1>服务器繁忙</h1>
<div id="save-status" class="save-status failed" role="alert">同时在线的人数已满，请稍后再试。</div>
<p>本页将在 {RETRY_AFTER} 秒后自动重试。正在填写的报告仍在原页面上，请不要关闭它，系统会自动重新保存。</p>
</body>
</html>
""".encode()

REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\n"
           b"Content-Type: text/html; charset=utf-8\r\n"
           b"Content-Length: " + str(len(REFUSAL_PAGE)).encode() + b"\r\n"
           b"Retry-After: " + str(RETRY_AFTER).encode() + b"\r\n"
           b"Cache-Control: no-store\r\n"
           b"Connection: close\r\n\r\n" + REFUSAL_PAGE)


class Refusal(wasyncore.dispatcher):
    """One connection past the limit: once its request arrives it gets the
    503 page, then the server waits for the client to close (reading and
    dropping what else it sends), as closing first could reset the
    connection before the browser has read the page."""

    def __init__(self, sock, map, refusals):
        super().__init__(sock, map)
        self.refusals = refusals
        self.refusals[self] = time.monotonic()
        self.unsent = REFUSAL
        self.asked = False

    def readable(self):
        return True

    def writable(self):
        return self.asked and bool(self.unsent)

    def handle_read(self):
        if self.recv(65536):
            self.asked = True

    def handle_write(self):
        self.unsent = self.unsent[self.send(self.unsent):]
        if not self.unsent and self.socket is not None:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                self.close()

    def handle_close(self):
        self.close()

    def handle_error(self):
        self.close()

    def close(self):
        self.refusals.pop(self, None)
        super().close()


class Server(TcpWSGIServer):
    """Waitress's server, but a connection past the limit is refused, not kept waiting."""

    def __init__(self, *args, siblings, refusals, **kw):
        self.siblings = siblings  # the servers of every listening address: they share the limit
        self.refusals = refusals  # shared by them too: {refusal: when it started}
        self.refusing = False
        super().__init__(*args, **kw)

    def open_connections(self):
        return sum(len(server.active_channels) for server in self.siblings)

    def readable(self):
        """Asked once per turn of the event loop: also the moment to close
        idle connections (as waitress does) and refusals taking too long."""
        now = time.time()
        if now >= self.next_channel_cleanup:
            self.next_channel_cleanup = now + self.adj.cleanup_interval
            self.maintenance(now)
        cutoff = time.monotonic() - REFUSAL_SECONDS
        for refusal, started in list(self.refusals.items()):
            if started < cutoff:
                refusal.close()
        full = self.open_connections() >= self.adj.connection_limit
        if full != self.refusing:
            self.refusing = full
            if full:
                log.warning("%d connections open, the limit: further ones are refused (503)",
                            self.adj.connection_limit)
            else:
                log.info("below the connection limit again")
        return self.accepting and len(self.refusals) < REFUSALS_AT_ONCE

    def handle_accept(self):
        if self.open_connections() < self.adj.connection_limit:
            return super().handle_accept()
        accepted = None
        try:
            accepted = self.accept()
            if accepted is not None:
                Refusal(accepted[0], self._map, self.refusals)
        except OSError:  # the client left already: nothing to answer
            if accepted is not None:
                accepted[0].close()


def create_server(app, host, port, connection_limit=CONNECTION_LIMIT, threads=THREADS):
    """A server on every address `host` names (as waitress.create_server)."""
    adj = Adjustments(host=host, port=port, threads=threads, connection_limit=connection_limit,
                      asyncore_use_poll=not WINDOWS, recv_bytes=RECV_BYTES)
    if not WINDOWS:
        make_room_for(connection_limit)
    socket_map, dispatcher, siblings, refusals = {}, ThreadedTaskDispatcher(), [], {}
    dispatcher.set_thread_count(adj.threads)
    for sockinfo in adj.listen:
        siblings.append(Server(app, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo,
                               siblings=siblings, refusals=refusals))
    if len(siblings) == 1:
        return siblings[0]
    listening = [(server.effective_host, server.effective_port) for server in siblings]
    return MultiSocketServer(socket_map, adj, listening, dispatcher, siblings[-1].log_info)


def make_room_for(connections):
    """Raise this process's open-file limit (up to what the system allows)
    to three descriptors a connection and some to spare."""
    import resource

    wanted = 3 * connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard),
                                                    hard))


class OncePerMinute(logging.Filter):
    """Waitress warns "Task queue depth is N" for every request that waits
    for a thread: in a burst, hundreds of lines a second, written by the
    one thread that serves every connection, so a slow console (or a full
    pipe) held up every user. One line a minute says as much."""

    def __init__(self):
        super().__init__()
        self.last = -math.inf

    def filter(self, record):
        if time.monotonic() - self.last < 60:
            return False
        self.last = time.monotonic()
        return True


def serve(app, host, port, connection_limit=CONNECTION_LIMIT, threads=THREADS):
    logging.basicConfig()  # waitress's warnings (e.g. a long task queue) reach the console
    logging.getLogger("waitress.queue").addFilter(OncePerMinute())
    create_server(app, host, port, connection_limit, threads).run()
