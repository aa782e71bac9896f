#!/usr/bin/python3
"""Execute notebooks with the tslab kernel, in order or N at a time; stop at the first failing cell.

Usage (Debian's Python, which has nbclient and nbformat):
    /usr/bin/python3 scripts/run_notebooks.py --out runs/nb [--timeout 1800] [--jobs N] \
        [--env PROFILE=smoke ...] [--quiet] notebooks/01_data.ipynb notebooks/02_train.ipynb

--jobs N runs up to N notebooks at once (each in its own process and kernel), started in the given
order; 0 means one per core. For notebooks that only read what an earlier step wrote (as in
scripts/pipeline.sh, where every notebook loads the experiment's results): a notebook that reads
what another notebook writes needs --jobs 1 (the default). In parallel every line a notebook prints
starts with its name; after the first failure no further notebook is started, the ones running
finish, and the exit status is 1.

Parameters reach the notebooks as environment variables: the kernel inherits this process's
environment plus every `--env KEY=VALUE`; a notebook's parameter cell reads
`process.env.KEY ?? default`. Each kernel starts in its notebook's folder (so `./src/...` imports
resolve) and the executed copy goes to `--out/<name>.ipynb`, also when a cell fails.

Why the error handling below: tslab answers a failed cell with a bare `status: error` reply (no
ename/evalue/traceback, no `error` output), so nbclient reports only `<Error>:`. tslab prints the
real error (the thrown value with its stack, or the TypeScript diagnostics) to the cell's stderr
stream, so on failure we print that stream. Exit status: 0 all passed, 1 a cell failed, 2 bad usage.
"""
import argparse
import multiprocessing
import multiprocessing.connection
import os
import re
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

PREFIX = ""  # "<name>: " when notebooks run in parallel, so that interleaved lines say whose they are


def say(text):
    """Print `text` (one or more lines) with this process's notebook prefix, flushed, as one write."""
    print("\n".join(PREFIX + line for line in text.split("\n")), flush=True)


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# tslab reports errors that escape a cell (a rejected promise nobody awaited) on stderr only;
# such a notebook would otherwise pass while its results are missing.
ESCAPED = ("UnhandledPromiseRejection:", "UncaughtException:")


class EchoClient(NotebookClient):
    """NotebookClient that also echoes stream output live (long training cells print progress)."""

    echo = True

    def process_message(self, msg, cell, cell_index):
        # Display entries that are plain text only (liveLine progress) are echoed too.
        data = msg["content"].get("data", {})
        if self.echo and msg["msg_type"] in ("display_data", "update_display_data") and list(data) == ["text/plain"]:
            say(f"    ~ {data['text/plain']}")
        return super().process_message(msg, cell, cell_index)

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if self.echo and msg["msg_type"] == "stream":
            say("\n".join(f"    | {line}" for line in msg["content"]["text"].rstrip("\n").split("\n")))
        return out


def cell_error_text(cell, reply=None):
    """The real error of a failed cell: error outputs, reply fields, and the stderr stream."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}".strip(": "))
            parts.extend(ANSI.sub("", line) for line in out.get("traceback", []))
    content = (reply or {}).get("content", {})
    if content.get("ename") or content.get("evalue"):
        parts.append(f"{content.get('ename', '')}: {content.get('evalue', '')}")
    stderr = "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr")
    if stderr.strip():
        parts.append(ANSI.sub("", stderr.rstrip()))
    return "\n".join(parts)


def write_atomic(nb, path):
    """Write `nb` to `path` through a temporary file in the same folder, then rename."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".ipynb.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600
    os.replace(tmp, path)


def tail(path, lines=30):
    with open(path, encoding="utf-8", errors="replace") as f:
        return "".join(f.readlines()[-lines:]).rstrip()


def fail(name, index, cell, message, out_path, log_path):
    bar = "=" * 72
    log = tail(log_path)
    log = f"--- kernel log ({log_path}, last lines) ---\n{log}\n" if log else ""
    # One write, so that a parallel notebook's lines do not land inside the report.
    print(f"\n{bar}\nFAILED: {name}, cell {index}\n--- cell source ---\n{cell.source}\n"
          f"--- error ---\n{message}\n{log}{bar}\npartial notebook: {out_path}", file=sys.stderr, flush=True)
    return 1


def run_notebook(path, args):
    """Execute one notebook; return 0 on success, 1 on the first failing cell."""
    name = os.path.basename(path)
    out_path = os.path.join(args.out, name)
    nb = nbformat.read(path, as_version=4)
    client = EchoClient(nb, kernel_name=args.kernel, timeout=args.timeout,
                        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    client.echo = not args.quiet
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    print(f"== {name}: {len(code)} code cells", flush=True)  # "== <name>" lines need no prefix
    t_nb = time.monotonic()
    os.makedirs(args.out, exist_ok=True)
    # The kernel's own stdout/stderr (outside any cell, e.g. a crash) go to a log, not the console.
    log_path = os.path.join(args.out, name.removesuffix(".ipynb") + ".kernel.log")
    with open(log_path, "w") as log, client.setup_kernel(stdout=log, stderr=log):
        info = client.wait_for_reply(client.kc.kernel_info())
        nb.metadata["language_info"] = info["content"].get("language_info", {})
        for n, index in enumerate(code, 1):
            cell = nb.cells[index]
            first = cell.source.strip().split("\n")[0][:60]
            say(f"  [{n}/{len(code)}] cell {index}: {first}")
            t0 = time.monotonic()
            try:
                client.execute_cell(cell, index, execution_count=n)
                stderr = cell_error_text(cell)
                if any(marker in stderr for marker in ESCAPED):
                    write_atomic(nb, out_path)
                    note = "an error escaped a cell (a promise nobody awaited; maybe from an earlier cell)"
                    return fail(name, index, cell, f"{note}\n{stderr}", out_path, log_path)
            except CellTimeoutError:
                write_atomic(nb, out_path)
                return fail(name, index, cell, f"timed out after {args.timeout} s\n{cell_error_text(cell)}".rstrip(), out_path, log_path)
            except DeadKernelError:
                write_atomic(nb, out_path)
                return fail(name, index, cell, f"the kernel died\n{cell_error_text(cell)}".rstrip(), out_path, log_path)
            except CellExecutionError:
                write_atomic(nb, out_path)
                message = cell_error_text(cell) or "(the kernel sent no error text)"
                return fail(name, index, cell, message, out_path, log_path)
            say(f"  [{n}/{len(code)}] cell {index} done in {time.monotonic() - t0:.1f} s")
    write_atomic(nb, out_path)
    print(f"== {name}: ok in {time.monotonic() - t_nb:.1f} s -> {out_path}", flush=True)
    return 0


def _child(path, args):
    """A parallel notebook's process: prefixed output, exit status = run_notebook's."""
    global PREFIX
    PREFIX = os.path.basename(path).removesuffix(".ipynb") + ": "
    try:
        code = run_notebook(path, args)
    except BaseException as e:  # noqa: BLE001 - any escape is this notebook's failure, reported here
        print(f"FAILED: {os.path.basename(path)}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_parallel(paths, args):
    """Up to args.jobs notebooks at once, started in order; no new start after a failure."""
    ctx = multiprocessing.get_context("fork")
    waiting, running, failed = list(paths), {}, []
    while waiting or running:
        while waiting and not failed and len(running) < args.jobs:
            path = waiting.pop(0)
            proc = ctx.Process(target=_child, args=(path, args), name=os.path.basename(path))
            proc.start()
            running[proc.sentinel] = (proc, path)
        if not running:
            break
        for sentinel in multiprocessing.connection.wait(list(running)):
            proc, path = running.pop(sentinel)
            proc.join()
            if proc.exitcode != 0:
                failed.append(os.path.basename(path))
    if failed:
        skipped = [os.path.basename(p) for p in waiting]
        print(f"failed: {', '.join(failed)}" + (f"; not started: {', '.join(skipped)}" if skipped else ""), file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="+", help="notebooks to run, in this order")
    ap.add_argument("--out", required=True, help="folder for the executed copies")
    ap.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds (default 3600; <=0: none)")
    ap.add_argument("--kernel", default="tslab", help="Jupyter kernel name (default tslab)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment variable for the kernels (repeatable)")
    ap.add_argument("--quiet", action="store_true", help="do not echo cell output live")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks at once (default 1: in order, one by one; 0: one per core)")
    args = ap.parse_args(argv)
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            ap.error(f"--env expects KEY=VALUE, got {item!r}")
        os.environ[key] = value  # the kernel manager copies os.environ into the kernel
    for path in args.notebooks:
        if not os.path.isfile(path):
            ap.error(f"no such notebook: {path}")
    if args.jobs < 0:
        ap.error(f"--jobs must be 0 (one per core) or a positive number of notebooks at once, got {args.jobs}")
    args.jobs = args.jobs or os.cpu_count() or 1
    names = [os.path.basename(p) for p in args.notebooks]
    if len(set(names)) != len(names):  # executed copies are written to --out/<name>
        ap.error(f"two notebooks with one name would overwrite each other's executed copy in --out: {sorted(n for n in set(names) if names.count(n) > 1)}")
    t0 = time.monotonic()
    at_once = min(args.jobs, len(args.notebooks))
    if at_once > 1:
        if run_parallel(args.notebooks, args) != 0:
            return 1
    else:
        for path in args.notebooks:
            if run_notebook(path, args) != 0:
                return 1
    # scripts/run-info.ts reads "N at a time" into run.json (notebooksAtOnce)
    print(f"all {len(args.notebooks)} notebooks passed in {time.monotonic() - t0:.1f} s" + (f", {at_once} at a time" if at_once > 1 else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
