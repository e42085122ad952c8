"""``kill -9`` of the daemon in the middle of 50 concurrent creates (and removes).

Issue 4: after a restart every container is either fully present (record,
snapshot, name reserved, listed, inspectable, startable, removable) or fully
absent (no record, no name reservation, no snapshot, no run dir, no runtime
state, no cgroup, no mount). Creates go as raw Engine API calls from 50
threads; the daemon is killed at a random moment while they are in flight,
in several rounds with different kill points.
"""

from __future__ import annotations

import glob
import json
import os
import random
import re
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from daemon_helpers import Daemon

pytestmark = [pytest.mark.needs_root, pytest.mark.slow]

N = 50
SAMPLE = 6  # containers started, names taken again, per round (for time)


def _client(d: Daemon) -> httpx.Client:
    return httpx.Client(base_url="http://d/v1.50", timeout=60,
                        transport=httpx.HTTPTransport(uds=d.sock))


class Answer:
    """An HTTP answer read off a raw socket: ``status_code``, ``text``, ``json()``."""

    def __init__(self, raw: bytes) -> None:
        head, _, body = raw.partition(b"\r\n\r\n")
        self.status_code = int(head.split(b" ", 2)[1])
        if b"transfer-encoding: chunked" in head.lower():
            out, rest = b"", body
            while rest:
                size, _, rest = rest.partition(b"\r\n")
                n = int(size, 16)
                if n == 0:
                    break
                out, rest = out + rest[:n], rest[n + 2:]
            body = out
        self.text = body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.text)


def _raw_request(method: str, path: str, kw: dict[str, Any]) -> bytes:
    """A request as bytes: one per connection (``Connection: close``)."""
    body = json.dumps(kw["json"]).encode() if "json" in kw else b""
    query = "&".join(f"{k}={v}" for k, v in kw.get("params", {}).items())
    target = f"/v1.50{path}" + (f"?{query}" if query else "")
    return (f"{method} {target} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def _in_parallel(d: Daemon, calls: list[tuple[str, str, dict[str, Any]]], kill_after: int,
                 delay: float) -> tuple[dict[int, Answer], int]:
    """Send ``calls`` at once, each on its own connection (made beforehand, so
    all are in flight together); kill -9 the daemon ``delay`` seconds after the
    ``kill_after``-th answer. Returns the answers that came back and how many
    calls were still in flight at the kill."""
    answers: dict[int, Answer] = {}
    lock = threading.Lock()
    enough = threading.Event()
    go = threading.Barrier(len(calls) + 1)
    if kill_after == 0:
        enough.set()

    def one(i: int) -> None:
        req = _raw_request(*calls[i])
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(60)
            sock.connect(d.sock)
            go.wait()
            raw = b""
            try:
                sock.sendall(req)
                while chunk := sock.recv(65536):
                    raw += chunk
            except OSError:
                return
        if not raw:  # the daemon died before answering
            return
        with lock:
            answers[i] = Answer(raw)
            if len(answers) >= kill_after:
                enough.set()

    with ThreadPoolExecutor(len(calls)) as pool:
        futs = [pool.submit(one, i) for i in range(len(calls))]
        go.wait()
        assert enough.wait(60), "no answers from the daemon"
        time.sleep(delay)
        with lock:
            done = len(answers)
        d.kill9()
        for f in futs:
            f.result()
    return answers, len(calls) - done


# --- what is on disk and in the kernel ------------------------------------------------


def _active_snapshots(d: Daemon) -> dict[str, dict[str, str]]:
    db = os.path.join(d.root, "snapshots", "overlay", "metadata.db")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT key, labels FROM snapshots WHERE kind = 'Active'").fetchall()
    finally:
        con.close()
    return {k: json.loads(labels) for k, labels in rows}


def _leftovers(d: Daemon, listed: set[str]) -> list[str]:
    """Everything that belongs to a container the daemon does not list."""
    bad = []
    for cid in os.listdir(os.path.join(d.root, "containers")):
        if cid not in listed:
            bad.append(f"container dir {cid}")
    for key, labels in _active_snapshots(d).items():
        if labels.get("dockyard/container") and key not in listed:
            bad.append(f"snapshot {key}")
        if key.startswith("extract-"):
            bad.append(f"extract snapshot {key}")
    snaps = os.path.join(d.root, "snapshots", "overlay", "snapshots")
    bad += [f"snapshot dir {p}" for p in os.listdir(snaps) if p.startswith(("new-", "rm-"))]
    shorts = {c[:12] for c in listed}
    bad += [f"run dir {p}" for p in os.listdir(os.path.join(d.run_root, "c")) if p not in shorts]
    rt = os.path.join(d.run_root, "runtime")
    # (dot-names are the runtime's own, not containers': its seccomp program cache)
    bad += ([f"runtime state {p}" for p in os.listdir(rt) if p not in listed and not p.startswith(".")]
            if os.path.isdir(rt) else [])
    for cg in glob.glob("/sys/fs/cgroup/*/dockyard/*") + glob.glob("/sys/fs/cgroup/dockyard/*"):
        cid = os.path.basename(cg)
        if cid not in listed and _ours(d, cid):  # other daemons' cgroups are theirs
            bad.append(f"cgroup {cg}")
    with open("/proc/self/mountinfo") as f:
        bad += [f"mount {line.split()[4]}" for line in f if line.split()[4].startswith(d.dir + "/")]
    return bad


_made: dict[str, set[str]] = {}


def _ours(d: Daemon, cid: str) -> bool:
    return cid in _made.get(d.dir, set())


def _listed(c: httpx.Client) -> dict[str, dict[str, Any]]:
    r = c.get("/containers/json", params={"all": "1"})
    assert r.status_code == 200, r.text
    return {x["Id"]: x for x in r.json()}


def _check_present(d: Daemon, c: httpx.Client, cid: str, name: str) -> None:
    """Record, snapshot, name, inspect; then start, wait, remove, and nothing left."""
    rec = os.path.join(d.root, "containers", cid, "config.v2.json")
    with open(rec, "rb") as f:
        assert json.loads(f.read())["Name"] == "/" + name
    assert cid in _active_snapshots(d)
    r = c.get(f"/containers/{name}/json")
    assert r.status_code == 200 and r.json()["Id"] == cid, r.text
    again = c.post("/containers/create", params={"name": name},
                   json={"Image": "busybox", "Cmd": ["true"]})
    assert again.status_code == 409, again.text  # the name stays reserved


def _start_wait_rm(c: httpx.Client, cid: str, start: bool = True) -> None:
    if start:
        r = c.post(f"/containers/{cid}/start")
        assert r.status_code == 204, r.text
        r = c.post(f"/containers/{cid}/wait")
        assert r.status_code == 200 and r.json()["StatusCode"] == 0, r.text
    r = c.delete(f"/containers/{cid}")
    assert r.status_code == 204, r.text


def _check_absent(c: httpx.Client, name: str, take: bool = True) -> str | None:
    """Nothing answers to the name; with ``take``, a new create gets it (the
    name is not reserved). Returns the new id."""
    r = c.get(f"/containers/{name}/json")
    assert r.status_code == 404, r.text
    if not take:
        return None
    r = c.post("/containers/create", params={"name": name},
               json={"Image": "busybox", "Cmd": ["true"]})
    assert r.status_code == 201, r.text
    return str(r.json()["Id"])


def _settle(d: Daemon, names: list[str], acked: set[str]) -> tuple[set[str], set[str]]:
    """After the restart: check each name is fully present or fully absent and
    return (present ids, ids made here to prove absent names free)."""
    with _client(d) as c:
        listed = _listed(c)
        by_name = {x["Names"][0].lstrip("/"): cid for cid, x in listed.items()}
        assert len(by_name) == len(listed), "two containers with one name"
        present, fresh = set(), set()
        leftovers = _leftovers(d, set(listed))
        assert not leftovers, leftovers
        absent = sorted(set(names) - set(by_name))
        # Names come back from the records at load, all or none: a sample
        # taken again proves them free (each take is a create, for time).
        take = set(random.sample(absent, min(SAMPLE, len(absent))))

        def one(name: str) -> None:
            cid = by_name.get(name)
            if cid is None:
                new = _check_absent(c, name, name in take)
                if new is not None:
                    _made.setdefault(d.dir, set()).add(new)
                    fresh.add(new)
            else:
                _check_present(d, c, cid, name)
                present.add(cid)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, names))
        missing = acked - set(listed)
        assert not missing, f"acknowledged creates lost: {missing}"
    return present, fresh


def test_kill9_during_concurrent_creates(daemon: Daemon, unique: str) -> None:
    rng = random.Random()
    in_flight_rounds = 0
    kill_points = [(0, 0.02 + rng.random() * 0.08), (rng.randint(5, 25), 0.0),
                   (rng.randint(1, 40), rng.random() * 0.02)]
    for rnd, (kill_after, delay) in enumerate(kill_points):
        # 40 names for 50 creates: ten names are asked for twice at once, and
        # only one of each pair may get it.
        names = [f"{unique}-r{rnd}-{i % 40}" for i in range(N)]
        calls = [("POST", "/containers/create",
                  {"params": {"name": n}, "json": {"Image": "busybox", "Cmd": ["true"],
                                                   "Labels": {"round": str(rnd)}}})
                 for n in names]
        answers, in_flight = _in_parallel(daemon, calls, kill_after, delay)
        in_flight_rounds += in_flight > 0
        print(f"round {rnd}: kill after {kill_after}+{delay:.3f}s, {len(answers)} answered, {in_flight} in flight")
        acked, acked_names = set(), []
        for i, r in answers.items():
            if r.status_code == 201:
                acked.add(r.json()["Id"])
                acked_names.append(names[i])
            else:
                assert r.status_code == 409 and names[i] in names[:10], r.text
        assert len(acked_names) == len(set(acked_names)), "one name given to two containers"
        _made.setdefault(daemon.dir, set()).update(acked)
        daemon.start()
        present, fresh = _settle(daemon, sorted(set(names)), acked)
        _made[daemon.dir].update(present)
        with _client(daemon) as c:
            # Present containers work end to end (a sample is started, for
            # time), every one is removable; the fresh ones just go.
            started = set(rng.sample(sorted(present), min(SAMPLE, len(present))))
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda cid, s=started: _start_wait_rm(c, cid, cid in s),
                              sorted(present | fresh)))
            assert _listed(c) == {}
            leftovers = _leftovers(daemon, set())
            assert not leftovers, leftovers
    assert in_flight_rounds >= 2, "the kills all came after the creates had finished"


def test_kill9_during_concurrent_removes(daemon: Daemon, unique: str) -> None:
    rng = random.Random()
    names = [f"{unique}-{i}" for i in range(N)]
    with _client(daemon) as c:
        # One name asked for by 20 creates at once: one gets it, 19 get 409.
        with ThreadPoolExecutor(20) as pool:
            rs = list(pool.map(lambda _: c.post("/containers/create", params={"name": names[0]},
                                                json={"Image": "busybox", "Cmd": ["true"]}),
                               range(20)))
        assert sorted(r.status_code for r in rs) == [201] + [409] * 19, [r.text for r in rs]
        assert len(_listed(c)) == 1
        assert c.delete(f"/containers/{names[0]}").status_code == 204

        def create(n: str) -> str:
            r = c.post("/containers/create", params={"name": n},
                       json={"Image": "busybox", "Cmd": ["true"]})
            assert r.status_code == 201, r.text
            return str(r.json()["Id"])

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(create, names))
    _made.setdefault(daemon.dir, set()).update(ids)
    calls = [("DELETE", f"/containers/{cid}", {}) for cid in ids]
    answers, in_flight = _in_parallel(daemon, calls, rng.randint(0, 20), rng.random() * 0.02)
    gone = {ids[i] for i, r in answers.items() if r.status_code == 204}
    print(f"removes: {len(answers)} answered, {len(gone)} gone, {in_flight} in flight")
    daemon.start()
    with _client(daemon) as c:
        listed = _listed(c)
        assert not gone & set(listed), "acknowledged removes came back"
        leftovers = _leftovers(daemon, set(listed))
        assert not leftovers, leftovers
        started = set(rng.sample(sorted(listed), min(SAMPLE, len(listed))))
        absent = [n for cid, n in zip(ids, names, strict=True) if cid not in listed]
        take = set(rng.sample(absent, min(SAMPLE, len(absent))))

        def one(cid: str, name: str) -> None:
            if cid in listed:
                _check_present(daemon, c, cid, name)
                _start_wait_rm(c, cid, cid in started)
            else:
                new = _check_absent(c, name, name in take)
                if new is not None:
                    _made[daemon.dir].add(new)
                    assert c.delete(f"/containers/{new}").status_code == 204

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, ids, names))
        assert _listed(c) == {}
        assert not _leftovers(daemon, set())


def _processes_under(d: Daemon) -> list[int]:
    """Supervisors and containers' processes whose command line names this
    daemon's dir (not the daemon itself, nor its fork server)."""
    assert d.proc is not None
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        # The Python supervisor carries the daemon's --root; the C one, its run dir.
        if d.dir.encode() in cmd and d.proc.pid not in (int(pid), ppid):
            out.append(int(pid))
    return out


def test_kill9_during_concurrent_starts(daemon: Daemon, unique: str) -> None:
    """Each container ends up running (restored, and its start answered if it
    was) or stopped with nothing of the start left: no runtime state, no
    rootfs mount, no process; and it starts again."""
    rng = random.Random()
    n = 16
    names = [f"{unique}-{i}" for i in range(n)]
    with _client(daemon) as c:

        def create(name: str) -> str:
            r = c.post("/containers/create", params={"name": name},
                       json={"Image": "busybox", "Cmd": ["sleep", "600"]})
            assert r.status_code == 201, r.text
            return str(r.json()["Id"])

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(create, names))
    _made.setdefault(daemon.dir, set()).update(ids)
    calls = [("POST", f"/containers/{cid}/start", {}) for cid in ids]
    answers, in_flight = _in_parallel(daemon, calls, rng.randint(1, n // 2), rng.random() * 0.05)
    started = {ids[i] for i, r in answers.items() if r.status_code == 204}
    print(f"starts: {len(answers)} answered, {len(started)} started, {in_flight} in flight")
    daemon.start()
    rt = os.path.join(daemon.run_root, "runtime")
    with open("/proc/self/mountinfo") as f:
        mounts = {line.split()[4] for line in f}
    with _client(daemon) as c:
        running = set()
        for cid in ids:
            st = c.get(f"/containers/{cid}/json").json()["State"]
            rootfs = os.path.join(daemon.run_root, "c", cid[:12], "rootfs")
            if st["Running"]:
                running.add(cid)
                os.kill(st["Pid"], 0)
                assert os.path.isdir(os.path.join(rt, cid)) and rootfs in mounts
            else:
                assert not os.path.exists(os.path.join(rt, cid)), f"runtime state of {cid}"
                assert rootfs not in mounts, f"rootfs of {cid} still mounted"
        assert started <= running, f"answered starts lost: {started - running}"
        if running:  # the leak check below sees supervisors when there are some
            assert _processes_under(daemon)
        # Stopped ones start; then every container goes.
        for cid in sorted(set(ids) - running):
            r = c.post(f"/containers/{cid}/start")
            assert r.status_code == 204, r.text

        def finish(cid: str) -> None:
            r = c.delete(f"/containers/{cid}", params={"force": "1"})
            assert r.status_code == 204, r.text

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(finish, ids))
        assert _listed(c) == {}
    leftovers = _leftovers(daemon, set())
    assert not leftovers, leftovers
    deadline = time.monotonic() + 30
    while (left := _processes_under(daemon)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes left behind: {left}"


# --- anonymous volumes ------------------------------------------------------------------


def _volume_state(d: Daemon, c: httpx.Client) -> tuple[set[str], dict[str, set[str]],
                                                        set[tuple[str, str]]]:
    """(volumes listed, each listed container's volumes, (volume, user) rows on disk)."""
    r = c.get("/volumes")
    assert r.status_code == 200, r.text
    vols = {v["Name"] for v in r.json()["Volumes"]}
    used = {}
    for cid in _listed(c):
        doc = c.get(f"/containers/{cid}/json").json()
        used[cid] = {m["Name"] for m in doc["Mounts"] if m["Type"] == "volume"}
    db = os.path.join(d.root, "volumes", "metadata.db")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        users = set(con.execute("SELECT volume, ref FROM refs UNION "
                                "SELECT volume, ref FROM mounts").fetchall())
    finally:
        con.close()
    return vols, used, users


def test_kill9_during_creates_with_anonymous_volumes(daemon: Daemon, unique: str) -> None:
    """Creates that make anonymous volumes (the image's VOLUME, ``-v /path``,
    ``--mount`` without a source) beside named ones, killed at random points:
    after the restart every volume is used by a listed container or is one
    the test named or made; a listed container's volumes all exist and are in
    use; and ``rm -v`` of everything leaves exactly the test's own volumes."""
    rng = random.Random()
    d = daemon
    base = d.docker("create", "busybox", "true", check=True).stdout.decode().strip()
    img = f"{unique}-vimg"
    d.docker("commit", "--change", "VOLUME /img", base, img, check=True)
    d.docker("rm", base, check=True)
    byhand = d.docker("volume", "create", check=True).stdout.decode().strip()
    keep, shared = f"{unique}-keep", f"{unique}-shared"
    d.docker("volume", "create", keep, check=True)
    ours = {byhand, keep, shared}  # shared: made by the first create that names it
    n = 40
    in_flight_rounds = 0
    kill_points = [(0, 0.05 + rng.random() * 0.2), (rng.randint(3, 20), rng.random() * 0.02),
                   (rng.randint(1, 30), rng.random() * 0.05)]
    for rnd, (kill_after, delay) in enumerate(kill_points):
        calls = []
        for i in range(n):
            host: dict[str, Any] = {"Binds": [f"{shared}:/shared"] if i % 3 == 0 else [],
                                    "Mounts": [{"Type": "volume", "Target": "/m"}]}
            if i % 5 == 0:
                host["Binds"].append(f"{byhand}:/h")
            calls.append(("POST", "/containers/create",
                          {"params": {"name": f"{unique}-r{rnd}-{i}"},
                           "json": {"Image": img, "Cmd": ["true"], "Volumes": {"/anon": {}},
                                    "HostConfig": host}}))
        answers, in_flight = _in_parallel(d, calls, kill_after, delay)
        in_flight_rounds += in_flight > 0
        acked = {r.json()["Id"] for r in answers.values() if r.status_code == 201}
        assert all(r.status_code == 201 for r in answers.values()), \
            [r.text for r in answers.values() if r.status_code != 201]
        _made.setdefault(d.dir, set()).update(acked)
        with open(os.path.join(d.dir, "daemon.log"), errors="replace") as f:
            logged = f.read()
        d.start()
        with open(os.path.join(d.dir, "daemon.log"), errors="replace") as f:
            fresh = f.read()[len(logged):]
        gone = sum(int(m) for m in re.findall(r"removed (\d+) anonymous volume", fresh))
        with _client(d) as c:
            vols, used, users = _volume_state(d, c)
            listed = len(used)
            assert acked <= set(used), "acknowledged creates lost"
            _made[d.dir].update(used)
            in_use = set().union(*used.values()) if used else set()
            assert in_use <= vols, f"volumes of listed containers gone: {in_use - vols}"
            assert vols <= in_use | ours, f"volumes nobody uses or asked for: {vols - in_use - ours}"
            on_disk = {e for e in os.listdir(os.path.join(d.root, "volumes"))
                       if not e.startswith("metadata.db")}
            assert on_disk == vols, f"volume dirs with no record: {on_disk - vols}"
            assert {u for _, u in users} <= set(used), "refs of containers that do not exist"
            for cid, names in used.items():
                assert {(v, cid) for v in names} <= users, f"{cid} lost its refs"
                assert len(names - ours) == 3, names  # /anon, /m and the image's /img
            # each anonymous volume of a create belongs to that container alone
            assert len(vols - ours) == 3 * len(used)
            # one container of each kind works end to end with its volumes
            for cid in rng.sample(sorted(used), min(2, len(used))):
                r = c.post(f"/containers/{cid}/start")
                assert r.status_code == 204, r.text
                r = c.post(f"/containers/{cid}/wait")
                assert r.status_code == 200 and r.json()["StatusCode"] == 0, r.text

            def rm(cid: str) -> None:
                r = c.delete(f"/containers/{cid}", params={"v": "1"})
                assert r.status_code == 204, r.text

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(rm, sorted(used)))
            vols, used, users = _volume_state(d, c)
            assert used == {} and users == set()
            assert {byhand, keep} <= vols <= ours, vols
        assert not _leftovers(d, set())
        print(f"round {rnd}: kill after {kill_after}+{delay:.3f}s, {len(acked)} acked, "
              f"{in_flight} in flight, {listed} listed, {gone} anonymous volumes reaped")
    assert in_flight_rounds >= 1, "the kills all came after the creates had finished"
