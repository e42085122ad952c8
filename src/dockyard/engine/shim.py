"""The daemon's side of one supervisor connection (``frames.py`` on asyncio).

``Shim`` reads frames in a task and routes them: container output to every
attached ``Stream`` (``subscribe``), exec output to that exec's stream,
events to futures (``started``, ``exit``). Writes (stdin, exec, resize) are
fire-and-forget frames.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

from . import frames


class Stream:
    """Output of one channel for one reader: (stream, bytes) items, None at the end."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()

    async def get(self) -> tuple[int, bytes] | None:
        return await self.queue.get()


class Shim:
    def __init__(self, sock: socket.socket, on_exit: Callable[[dict[str, Any]], None]) -> None:
        self.sock = sock
        self.on_exit = on_exit
        loop = asyncio.get_running_loop()
        # "created" (or "hello" on reconnect, or "error"), then "started" (or "error")
        self.first: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.started: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.subscribers: set[Stream] = set()
        self.execs: dict[int, Stream] = {}
        self.exec_events: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.exec_exits: dict[int, Callable[[int], None]] = {}
        self.closed = False
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        reader, self._writer = await asyncio.open_unix_connection(sock=self.sock)
        self._task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        parser = frames.Parser()
        got_exit = False
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                for kind, stream, ch, payload in parser.feed(chunk):
                    if kind == frames.DATA:
                        self._data(stream, ch, payload)
                        continue
                    msg = json.loads(payload)
                    ev = msg.get("event")
                    if ev in ("created", "error", "hello") and not self.first.done():
                        self.first.set_result(msg)
                    elif ev in ("started", "error") and not self.started.done():
                        self.started.set_result(msg)
                    elif ev in ("exec-started", "exec-error"):
                        fut = self.exec_events.pop(int(msg["ch"]), None)
                        if fut is not None and not fut.done():
                            fut.set_result(msg)
                    elif ev == "exit":
                        if int(msg.get("ch", 0)) == 0:
                            got_exit = True
                            self._end_all()
                            self.on_exit(msg)
                        else:
                            self._exec_exit(int(msg["ch"]), int(msg.get("code") or 0))
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            for fut in (self.first, self.started):
                if not fut.done():
                    fut.set_result({"event": "error", "message": "supervisor exited"})
            for fut in self.exec_events.values():
                if not fut.done():
                    fut.set_result({"event": "exec-error", "message": "supervisor exited"})
            self._end_all()
            for ch in list(self.execs):
                self._exec_exit(ch, 137)
            if self._writer is not None:
                self._writer.close()
            if not got_exit:
                self.on_exit({})  # lost: the engine reads exit.json or marks it dead

    def _data(self, stream: int, ch: int, payload: bytes) -> None:
        if ch == 0:
            for s in self.subscribers:
                s.queue.put_nowait((stream, payload))
        elif ch in self.execs:
            self.execs[ch].queue.put_nowait((stream, payload))

    def _end_all(self) -> None:
        for s in self.subscribers:
            s.queue.put_nowait(None)
        self.subscribers.clear()

    def _exec_exit(self, ch: int, code: int) -> None:
        cb = self.exec_exits.pop(ch, None)
        if cb is not None:
            cb(code)  # recorded before the stream ends: `docker exec` reads it next
        s = self.execs.pop(ch, None)
        if s is not None:
            s.queue.put_nowait(None)

    def subscribe(self) -> Stream:
        s = Stream()
        if self.closed:
            s.queue.put_nowait(None)
        else:
            self.subscribers.add(s)
        return s

    def unsubscribe(self, s: Stream) -> None:
        self.subscribers.discard(s)

    def _send(self, frame: bytes) -> None:
        if self._writer is not None and not self.closed:
            self._writer.write(frame)

    def stdin(self, ch: int, data: bytes) -> None:
        if data:
            self._send(frames.data(0, ch, data))

    def close_stdin(self, ch: int) -> None:
        self._send(frames.data(0, ch, b""))

    def start(self) -> None:
        self._send(frames.ctrl({"op": "start"}))

    def abort(self) -> None:
        self._send(frames.ctrl({"op": "abort"}))

    def resize(self, ch: int, h: int, w: int) -> None:
        self._send(frames.ctrl({"op": "resize", "ch": ch, "h": h, "w": w}))

    async def exec(self, ch: int, process: dict[str, Any], *, tty: bool, stdin: bool,
                   h: int, w: int, on_exit: Callable[[int], None]) -> tuple[int, Stream]:
        """Start an exec on channel ``ch``; (pid, its output). RuntimeError on failure."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.exec_events[ch] = fut
        stream = Stream()
        self.execs[ch] = stream
        self.exec_exits[ch] = on_exit
        self._send(frames.ctrl({"op": "exec", "ch": ch, "process": process, "tty": tty,
                                "stdin": stdin, "h": h, "w": w}))
        msg = await fut
        if msg["event"] != "exec-started":
            self.execs.pop(ch, None)
            self.exec_exits.pop(ch, None)
            raise RuntimeError(msg.get("message", "exec failed"))
        return int(msg["pid"]), stream

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
