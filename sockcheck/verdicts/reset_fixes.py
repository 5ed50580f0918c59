"""Fix hints for the causes of a server's RST (sockcheck/judgments/resets.py), shared by every check
that explains one; the catalogue merges them into those checks' ``fixes``, and a check's own hint for
a cause (tcp.close.peer-reset's for a death by SIGPIPE) takes precedence."""

from __future__ import annotations

from sockcheck.judgments import causes as cause

RESET_FIXES = {
    cause.RST_UNREAD: "close() with unread input sends RST and loses data: read until recv() returns 0 (the "
                      "client's EOF) before close(); one recv() is not one request",
    cause.RST_LINGER: "SO_LINGER {1, 0} turns close() into an abort (RST, queued data lost): remove it; TIME_WAIT is "
                      "harmless, and SO_REUSEADDR lets a restart bind",
    cause.RST_NO_SOCKET: "the kernel answered for a socket already closed: close a client's socket only after its "
                         "EOF, and on a client's error close that client's fd, never the listener",
    cause.RST_UNTOLD: "an abortive close (RST): read until recv() returns 0 before close(), keep echo queued until "
                      "it is sent, and drop SO_LINGER {1, 0}",
    cause.SIGPIPE: "died of SIGPIPE: ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL",
    cause.CRASH: "died of a signal, and the kernel reset its connections: find the crash (its log, a core dump) in "
                 "the error paths of recv()/send()",
    cause.EXIT_ON_ERROR: "the server exited, and the kernel reset its connections: keep serving; an error ends only "
                         "the connection it happened on",
}
