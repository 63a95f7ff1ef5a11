"""Classroom load test: many students on one server, over Streamlit's own websocket protocol.

Each simulated student is one websocket session on ``/_stcore/stream``, as a browser tab is:
it sends ``BackMsg.rerun_script`` (page, query string, every widget's state) and reads
``ForwardMsg``s until ``script_finished`` - at that point every delta of the updated page has
arrived, so the time from sending to it is the control-to-update latency a student sees (the
browser's drawing aside). Widgets are found and moved with AppTest's element tree, fed the
session's messages, so the widget states sent are exactly what the server expects; large
messages are cached and announced back (``cached_message_hashes``) as a browser does.

Students open lesson pages and move the controls listed for each page in
``bench/bench_pages.py``'s ``INTERACTIONS`` (a page without an entry gets its sliders moved),
with 0.5-2 s between moves. Phases:

1. warm-up: one session opens every page once (first-use costs are paid here);
2. idle: one session alone, ``--idle-moves`` control changes;
3. loaded: ``--sessions`` sessions at once for ``--duration`` seconds;
4. optional (``--finetune-steps N``): ``python -m core.finetune --max-steps N`` alone, then
   again during a second loaded phase; its tokens/s (events.jsonl) alone vs under load.

Reports p50/p95 control-to-update and page-load times, the server's memory growth per
session (RSS via psutil), whether every session was served, and the machine (cores, torch's
CPU capability, load average) beside every figure. It starts its own server on 127.0.0.1
(or measures a running one with ``--url`` and ``--server-pid``) and stops by itself.

    .venv/bin/python bench/bench_load.py                         # 30 sessions, 60 s
    .venv/bin/python bench/bench_load.py --sessions 30 --duration 90 --finetune-steps 20
    .venv/bin/python bench/bench_load.py --pages rank,lora --sessions 6 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.runtime.state.common import TESTING_KEY  # noqa: E402
from streamlit.testing.v1.element_tree import Widget, parse_tree_from_messages  # noqa: E402

from bench.bench_pages import INTERACTIONS  # noqa: E402

FINISHED_EARLY = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR
FRAGMENT_DONE = ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
RUN_TIMEOUT_S = 120  # one rerun that takes longer counts as a failed request
CACHE_ENTRIES = 400  # messages a session keeps for ref_hash replies (a browser keeps more)
GENERIC_KINDS = ("slider", "select_slider")


# -- the machine -------------------------------------------------------------------------------


def cpu_capability() -> str:
    """torch's CPU capability (AVX2, AVX512, ...) from a subprocess, so torch never loads here."""
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def machine(capability: str) -> str:
    return (
        f"{os.cpu_count()} cores ({psutil.cpu_count(logical=False)} physical), "
        f"torch CPU {capability}"
    )


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")
    )


def ms(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 0.5) * 1000:7.0f} ms  p95 {percentile(values, 0.95) * 1000:7.0f} ms"
        f"  max {max(values) * 1000:7.0f} ms  (n={len(values)})"
    )


# -- one student ------------------------------------------------------------------------------


@dataclass
class Stats:
    moves: list[float] = field(default_factory=list)  # control change -> updated page, s
    loads: list[float] = field(default_factory=list)  # page open -> page shown, s
    by_page: dict[str, list[float]] = field(default_factory=dict)  # page -> its moves, s
    errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)  # st.exception boxes on a page


class _WireState(dict):
    """What AppTest's element tree asks of a script's session state, as seen from the wire:
    options arrive as their labels, so every widget's format_func is ``str``."""

    def __getitem__(self, key):
        if key == TESTING_KEY:
            return defaultdict(lambda: str)
        raise KeyError(key)  # a widget's current value: only set values are read here

    def __bool__(self) -> bool:
        return True


class Session:
    """One browser tab: a websocket session on the server, its current page as messages."""

    def __init__(self, url: str, rng: random.Random):
        self.url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.rng = rng
        self.ws = None
        self.page = ""  # url path of the current page
        self.page_title = ""
        self.query = ""
        self.page_hashes: dict[str, str] = {}  # url path -> page_script_hash
        self.page_hash = ""
        self.elements: dict[tuple, ForwardMsg] = {}  # delta path -> latest delta message
        self.cache: OrderedDict[str, ForwardMsg] = OrderedDict()
        self.controls = []
        self.step = 0
        self.touched: dict[str, object] = {}  # widget id -> WidgetState this tab has sent

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url, subprotocols=["streamlit"], max_size=None, open_timeout=RUN_TIMEOUT_S
        )

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def _resolve(self, msg: ForwardMsg) -> ForwardMsg:
        if msg.WhichOneof("type") == "ref_hash":
            cached = self.cache[msg.ref_hash]
            full = ForwardMsg()
            full.CopyFrom(cached)
            full.metadata.CopyFrom(msg.metadata)
            return full
        if msg.metadata.cacheable:
            self.cache[msg.hash] = msg
            self.cache.move_to_end(msg.hash)
            while len(self.cache) > CACHE_ENTRIES:
                self.cache.popitem(last=False)
        return msg

    async def _run(self, back: BackMsg) -> float:
        """Send one rerun request; read until its script has finished. Returns seconds."""
        back.rerun_script.cached_message_hashes.extend(self.cache.keys())
        start = time.perf_counter()
        await self.ws.send(back.SerializeToString())
        run: dict[tuple, ForwardMsg] = {}
        fragment = bool(back.rerun_script.fragment_id)
        async with asyncio.timeout(RUN_TIMEOUT_S):
            while True:
                msg = ForwardMsg()
                msg.ParseFromString(await self.ws.recv())
                kind = msg.WhichOneof("type")
                if kind == "new_session" and not fragment:  # a run starts (again, after an
                    run = {}  # st.rerun); Streamlit 1.67 sends one before a fragment's run too
                elif kind == "navigation":
                    self.page_hash = msg.navigation.page_script_hash
                    self.page_hashes = {
                        p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages
                    }
                elif kind == "page_info_changed":
                    self.query = msg.page_info_changed.query_string
                elif kind in ("delta", "ref_hash"):
                    msg = self._resolve(msg)
                    run[tuple(msg.metadata.delta_path)] = msg
                elif kind == "script_finished":
                    if msg.script_finished == FINISHED_EARLY:
                        continue
                    if msg.script_finished == FRAGMENT_DONE and not fragment:
                        continue  # a fragment's own timer (run_every), not this request
                    if msg.script_finished == COMPILE_ERROR:
                        raise RuntimeError(f"page {self.page!r} did not compile")
                    break
        elapsed = time.perf_counter() - start
        if fragment:
            self.elements.update(run)
        else:
            self.elements = run
        return elapsed

    def tree(self):
        tree = parse_tree_from_messages(list(self.elements.values()))
        tree._runner = SimpleNamespace(_session_state=_WireState())
        return tree

    async def open(self, page: str, query: str = "") -> float:
        """Open a page as a link or the sidebar does (no widget states; its query string)."""
        back = BackMsg()
        back.rerun_script.page_name = page
        back.rerun_script.query_string = query
        if page in self.page_hashes:
            back.rerun_script.page_script_hash = self.page_hashes[page]
        self.page, self.query, self.touched = page, query, {}
        seconds = await self._run(back)
        self.page_title = self.title()
        file = next((f for f in INTERACTIONS if f.removesuffix(".py") == page), None)
        self.controls = INTERACTIONS.get(file) or []
        self.step = self.rng.randrange(max(1, sum(len(v) for _, _, v in self.controls)))
        return seconds

    def _next_control(self, tree):
        """The next (widget, value) from the page's INTERACTIONS that is on the page now,
        or a random slider value for a page without a list."""
        flat = [(kind, key, value) for kind, key, values in self.controls for value in values]
        for _ in range(len(flat)):
            kind, key, value = flat[self.step % len(flat)]
            self.step += 1
            try:
                widget = getattr(tree, kind)(key=key)
            except KeyError:
                continue  # e.g. a control shown only for another choice
            if not widget.proto.disabled:
                return widget, value
        widgets = [w for kind in GENERIC_KINDS for w in getattr(tree, kind) if not w.proto.disabled]
        if not widgets:
            return None, None
        widget = self.rng.choice(widgets)
        if widget.type == "select_slider":
            return widget, self.rng.choice(list(widget.options))
        value = self.rng.uniform(widget.min, widget.max)
        return widget, value if isinstance(widget.min, float) else round(value)

    async def move(self) -> float | None:
        """Change one control as a student does; seconds until the updated page is in."""
        widget, value = self._next_control(self.tree())
        return None if widget is None else await self.change(widget, value)

    async def set(self, kind: str, key: str, value) -> float:
        """Set the control ``key`` (an element tree kind: "slider", "text_input"...)."""
        return await self.change(getattr(self.tree(), kind)(key=key), value)

    async def change(self, widget, value) -> float | None:
        try:
            widget.set_value(value)
            state = widget._widget_state
        except ValueError:  # a value the control does not offer as listed: skip this move
            return None
        # Like the browser: the states of the widgets this tab changed (the server keeps the
        # others' values from the previous run).
        self.touched[widget.id] = state
        back = BackMsg()
        back.rerun_script.page_name = self.page
        back.rerun_script.page_script_hash = self.page_hash
        back.rerun_script.query_string = self.query
        back.rerun_script.widget_states.widgets.extend(self.touched.values())
        fragment_id = self._fragment_of(widget.id)
        if fragment_id:
            back.rerun_script.fragment_id = fragment_id
        seconds = await self._run(back)
        if self.title() != self.page_title:
            raise RuntimeError(f"a move on {self.page!r} showed {self.title()!r}")
        return seconds

    def title(self) -> str:
        titles = self.tree().title
        return titles[0].value if len(titles) else ""

    def _fragment_of(self, widget_id: str) -> str:
        for msg in self.elements.values():
            element = msg.delta.new_element
            kind = element.WhichOneof("type")
            if kind and getattr(getattr(element, kind), "id", None) == widget_id:
                return msg.delta.fragment_id
        return ""

    def texts(self) -> str:
        """Every text on the current page, for tests."""
        found = []
        for node in self.tree():
            if isinstance(node, Widget):  # its label and options (its value is not on the wire)
                found += [node.label, *map(str, getattr(node, "options", None) or [])]
            elif isinstance(getattr(node, "value", None), str):
                found.append(node.value)
        return "\n".join(found)

    def exceptions(self) -> list[str]:
        return [f"{self.page}: {e.message}" for e in self.tree().exception]


class Arrivals:
    """Counts sessions that have their first page; ``all`` is set when every one has."""

    def __init__(self, n: int):
        self.left, self.all = n, asyncio.Event()

    def one(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.all.set()


async def student(
    url: str,
    pages: list[str],
    until: float,
    stats: Stats,
    seed: int,
    moves_per_page: int,
    pause: tuple[float, float],
    arrived: Arrivals,
    delay: float,
) -> None:
    """One student until ``until``: after ``delay`` s, open a page, move its controls, go
    to the next page."""
    rng = random.Random(seed)
    session = Session(url, rng)
    order = pages[seed % len(pages) :] + pages[: seed % len(pages)]
    try:
        await asyncio.sleep(delay)
        start = time.perf_counter()
        await session.connect()
        first = True
        while time.time() < until:
            for page in order:
                if time.time() >= until:
                    break
                seconds = await session.open(page)
                if first:
                    seconds = time.perf_counter() - start  # the first load includes connecting
                    arrived.one()
                    first = False
                stats.loads.append(seconds)
                stats.exceptions += session.exceptions()
                for _ in range(moves_per_page):
                    await asyncio.sleep(rng.uniform(*pause))
                    if time.time() >= until:
                        break
                    seconds = await session.move()
                    if seconds is not None:
                        stats.moves.append(seconds)
                        stats.by_page.setdefault(page, []).append(seconds)
                stats.exceptions += session.exceptions()
    except Exception as error:  # counted: this student was not served
        stats.errors.append(f"session {seed}: {type(error).__name__}: {error}")
    finally:
        await session.close()


async def crowd(
    url: str,
    n: int,
    pages: list[str],
    seconds: float,
    moves_per_page: int,
    pause: tuple[float, float],
    server: psutil.Process | None,
    seed: int,
    ramp: float = 0.0,
) -> dict:
    """``n`` students for ``seconds``, arriving evenly over the first ``ramp`` seconds;
    their stats and the server's memory."""
    rss_before = server.memory_info().rss if server else None
    cpu_before = server.cpu_times() if server else None
    until = time.time() + seconds
    arrived = Arrivals(n)
    all_stats = [Stats() for _ in range(n)]
    tasks = [
        asyncio.create_task(
            student(
                url,
                pages,
                until,
                all_stats[i],
                seed + i,
                moves_per_page,
                pause,
                arrived,
                ramp * i / n,
            )
        )
        for i in range(n)
    ]
    rss_connected = None
    try:
        async with asyncio.timeout(seconds + RUN_TIMEOUT_S):
            await arrived.all.wait()
        await asyncio.sleep(min(5.0, max(0.0, until - time.time())))
        rss_connected = server.memory_info().rss if server else None
    except TimeoutError:
        pass
    await asyncio.gather(*tasks)
    rss_after = server.memory_info().rss if server else None
    cpu_after = server.cpu_times() if server else None
    return {
        "stats": all_stats,
        "rss_before": rss_before,
        "rss_connected": rss_connected,
        "rss_after": rss_after,
        "server_cpu_s": (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system)
        if server
        else None,
        "load": load(),
    }


# -- the server and the fine-tune -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs_dir: Path, extra: list[str] = (), log=subprocess.DEVNULL
                 ) -> tuple[subprocess.Popen, str]:
    """A streamlit server of the app on a free local port, its runs in ``runs_dir``, its
    output to ``log`` (an open file, never an unread pipe); (process, url) once healthy."""
    port = free_port()
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QLORA_LAB_RUNS=str(runs_dir)
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the streamlit server did not start")


def start_finetune(steps: int, out: Path, nice: int, threads: int | None) -> subprocess.Popen:
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false"
    )
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [
        sys.executable,
        "-m",
        "core.finetune",
        "--max-steps",
        str(steps),
        "--output-dir",
        str(out),
    ]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )


def finetune_report(out: Path, returncode: int | None) -> dict:
    """tokens/s from events.jsonl (the first step, which warms up, left out) and the result."""
    events = []
    events_file = out / "events.jsonl"
    if events_file.exists():
        for line in events_file.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    rates = [e["tokens_per_s"] for e in events[1:] if e.get("tokens_per_s")]
    status = json.loads((out / "status.json").read_text()) if (out / "status.json").exists() else {}
    evaluation = json.loads((out / "eval.json").read_text()) if (out / "eval.json").exists() else {}
    return {
        "returncode": returncode,
        "state": status.get("state"),
        "steps": len(events),
        "tokens_per_s": statistics.mean(rates) if rates else None,
        "after": evaluation.get("after"),
        "train_seconds": evaluation.get("train_seconds"),
    }


async def finetune_alone(
    steps: int, out: Path, nice: int, threads: int | None, timeout: float
) -> dict:
    proc = start_finetune(steps, out, nice, threads)
    try:
        returncode = await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
    except TimeoutError:
        proc.kill()
        returncode = None
    return {**finetune_report(out, returncode), "load": load()}


# -- report -----------------------------------------------------------------------------------


def summarise(name: str, result: dict, n: int, where: str) -> dict:
    stats: list[Stats] = result["stats"]
    moves = [t for s in stats for t in s.moves]
    loads = [t for s in stats for t in s.loads]
    errors = [e for s in stats for e in s.errors]
    exceptions = sorted({e for s in stats for e in s.exceptions})
    served = sum(1 for s in stats if s.loads and s.moves and not s.errors)
    row = {
        "phase": name,
        "sessions": n,
        "served": served,
        "moves": moves,
        "loads": loads,
        "errors": errors,
        "exceptions": exceptions,
        "load": result["load"],
    }
    print(f"\n== {name}: {n} session(s) [{where}; {result['load']}]")
    print(f"   control -> updated page  {ms(moves)}")
    print(f"   page load                {ms(loads)}")
    pages = sorted({page for s in stats for page in s.by_page})
    row["by_page"] = {page: [t for s in stats for t in s.by_page.get(page, [])] for page in pages}
    for page in pages:
        print(f"     {page:<22} {ms(row['by_page'][page])}")
    print(
        f"   sessions served          {served} of {n}"
        + (f"; errors: {errors[:3]}" if errors else "")
    )
    if exceptions:
        print(f"   exceptions on pages      {exceptions[:5]}")
    if result["rss_before"] is not None:
        base, end = result["rss_before"], result["rss_after"]
        peak = max(end, result["rss_connected"] or 0)
        per = (peak - base) / n / 2**20
        row |= {
            "rss_before_mb": base / 2**20,
            "rss_peak_mb": peak / 2**20,
            "mb_per_session": per,
            "server_cpu_s": result["server_cpu_s"],
        }
        print(
            f"   server memory            {base / 2**20:.0f} MB -> {peak / 2**20:.0f} MB: "
            f"{per:+.1f} MB per session; server CPU {result['server_cpu_s']:.1f} s"
        )
    return row


def print_finetune(label: str, report: dict, where: str) -> None:
    rate = report["tokens_per_s"]
    print(
        f"   fine-tune {label:<14} {report['state']} after {report['steps']} steps, "
        f"{rate:.0f} tokens/s"
        if rate
        else f"   fine-tune {label:<14} {report['state']}, no tokens/s",
        f"[{where}; {report['load']}]",
    )


def parse_args(argv=None) -> argparse.Namespace:
    lessons = json.loads((ROOT / "assets" / "lessons.json").read_text())
    every = [
        lesson["file"].removesuffix(".py")
        for lesson in lessons
        if (ROOT / "pages" / lesson["file"]).exists()
    ]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=30, help="concurrent sessions when loaded")
    p.add_argument("--duration", type=float, default=60, help="seconds of the loaded phase")
    p.add_argument(
        "--pages",
        default=",".join(every),
        help="comma-separated url paths of the pages to open (default: every lesson)",
    )
    p.add_argument(
        "--ramp",
        type=float,
        default=10,
        help="students arrive evenly over this many seconds (0: all at once)",
    )
    p.add_argument("--idle-moves", type=int, default=40, help="control changes of the idle phase")
    p.add_argument("--moves-per-page", type=int, default=8)
    p.add_argument("--pause", default="0.5,2", help="seconds between moves: min,max")
    p.add_argument(
        "--finetune-steps",
        type=int,
        default=0,
        help="also run python -m core.finetune with this many steps, alone and "
        "under load (0: no fine-tune)",
    )
    p.add_argument("--finetune-nice", type=int, default=0, help="nice value of the fine-tune")
    p.add_argument(
        "--finetune-threads",
        type=int,
        default=0,
        help="OMP_NUM_THREADS of the fine-tune (0: torch's default)",
    )
    p.add_argument("--finetune-timeout", type=float, default=1800)
    p.add_argument("--url", help="measure this running server instead of starting one")
    p.add_argument("--server-pid", type=int, help="its process id (for memory and CPU)")
    p.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help='extra streamlit flags for the server it starts, e.g. "--runner.postScriptGC true"',
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    args.pages = [page.strip() for page in args.pages.split(",") if page.strip()]
    args.pause = tuple(float(x) for x in args.pause.split(","))
    if args.sessions < 1 or args.duration <= 0 or not args.pages or len(args.pause) != 2:
        p.error("need --sessions >= 1, --duration > 0, some --pages and --pause min,max")
    return args


async def main_async(args: argparse.Namespace) -> dict:
    capability = cpu_capability()
    where = machine(capability)
    print(f"Machine: {where}; {psutil.virtual_memory().total / 2**30:.1f} GiB RAM; {load()}")
    tmp = Path(tempfile.mkdtemp(prefix="qlora-lab-load-"))
    proc = None
    if args.url:
        url, pid = args.url.rstrip("/"), args.server_pid
    else:
        proc, url = start_server(tmp / "runs", [a for arg in args.server_arg for a in arg.split()])
        pid = proc.pid
    server = psutil.Process(pid) if pid else None
    report = {
        "machine": where,
        "pages": args.pages,
        "sessions": args.sessions,
        "duration_s": args.duration,
        "phases": [],
    }
    try:
        # 1) warm-up: every page once, so first-use costs are not in the figures
        session = Session(url, random.Random(args.seed))
        await session.connect()
        start = time.perf_counter()
        for page in args.pages:
            await session.open(page)
        print(
            f"warm-up: every page once in {time.perf_counter() - start:.1f} s [{where}; {load()}]"
        )
        await session.close()

        # 2) idle: one student alone
        idle_seconds = args.idle_moves * (sum(args.pause) / 2 + 0.3) + 5
        idle = await crowd(
            url, 1, args.pages, idle_seconds, args.moves_per_page, args.pause, server, args.seed
        )
        report["phases"].append(summarise("idle", idle, 1, where))

        # 3) loaded: a class
        def a_class(seed: int):
            return crowd(url, args.sessions, args.pages, args.duration, args.moves_per_page,
                         args.pause, server, seed, args.ramp)

        loaded = await a_class(args.seed + 1)
        report["phases"].append(summarise("loaded", loaded, args.sessions, where))

        # 4) a fine-tune alone, then under load
        if args.finetune_steps:
            threads = args.finetune_threads or None
            print(
                f"\nfine-tune: {args.finetune_steps} steps, nice {args.finetune_nice}, "
                f"threads {threads or 'default'}"
            )
            alone = await finetune_alone(
                args.finetune_steps,
                tmp / "ft-alone",
                args.finetune_nice,
                threads,
                args.finetune_timeout,
            )
            print_finetune("alone", alone, where)
            ft = start_finetune(args.finetune_steps, tmp / "ft-loaded", args.finetune_nice, threads)
            with_run = await a_class(args.seed + 2)
            try:
                code = await asyncio.wait_for(asyncio.to_thread(ft.wait), args.finetune_timeout)
            except TimeoutError:
                ft.kill()
                code = None
            under = {**finetune_report(tmp / "ft-loaded", code), "load": load()}
            report["phases"].append(summarise("loaded + fine-tune", with_run, args.sessions, where))
            print_finetune("under load", under, where)
            same = alone["after"] == under["after"]
            print(
                f"   held-out result the same alone and under load: {same} "
                f"({alone['after']} / {under['after']})"
            )
            report["finetune"] = {"alone": alone, "under_load": under, "same_result": same}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    client = psutil.Process().cpu_times()
    print(
        f"\nload generator's own CPU: {client.user + client.system:.1f} s (it shares the machine)"
    )
    return report


def main(argv=None) -> dict:
    args = parse_args(argv)
    report = asyncio.run(main_async(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":
    main()
