"""Run numbered notebooks headless with papermill; the one way committed outputs change.

    python scripts/run_notebooks.py notebooks/03_*.ipynb                # publish (make reproduce)
    python scripts/run_notebooks.py --profile smoke notebooks/*.ipynb   # -> build/smoke/notebooks/
    python scripts/run_notebooks.py -p seeds "[0]" notebooks/03_*.ipynb # -> build/default/notebooks/
    python scripts/run_notebooks.py --profile smoke --baseline notebooks/*.ipynb  # nbval baselines
    python scripts/run_notebooks.py --no-cache notebooks/05_*.ipynb      # train every run again
    python scripts/run_notebooks.py --jobs 2 notebooks/*.ipynb           # runs on 2 worker processes
    python scripts/run_notebooks.py --executor dask:tcp://HOST:8786 notebooks/*.ipynb  # on a Dask cluster

The run cache: every training run's result is kept in build/cache/runs/ (or where DML_RUN_CACHE
points), keyed by the run, the configuration it sees, the data, the code it executes and the
machine's float path (dml_utils.runs). A rerun with nothing changed trains nothing; an interrupted
run resumes at its first missing run; changing a figure retrains nothing. --no-cache trains every
run and stores nothing. Published numbers are the same either way.

Executors: --jobs N runs each plan's runs on a local pool of N worker processes, --executor names
any executor of dml_utils.executors (serial, pool:N, dask:N, dask:tcp://HOST:PORT, slurm:PARTITION);
the notebooks' kernels read it from DML_EXECUTOR. One spec gives the same numbers on every executor
of one machine, so a pooled run publishes like a serial one.

Publishing: a run at the default profile with no -p parameter writes its figures and results
into a staging folder (build/stage/<notebook>/); only when the whole notebook has run are they
copied into figures/ and results/ (a file whose bytes did not change is left as it was, and a
figure of this notebook that the run no longer makes is removed), and the executed notebook
replaces the committed one. The committed notebook runs its own parameters cell (no injected
cell, so what a reader types there is what runs) and carries no progress-bar residue.
A publishing run that finds nothing new publishes nothing: when its results equal the committed
ones value for value (scripts/compare_results.py: all but timings, dates and the run log), every
figure has the same bytes and the notebook's code cells are the ones last published (a digest of
their sources in the notebook's metadata), no committed file is touched, not even to refresh
timings; an edit of the prose alone stays as it is.

The full profile: a complete run at `--profile full` with no -p parameter and no seed shift also
keeps its results JSON in results/full/ (nothing else of it is committed: its notebook and
figures stay under build/full/). A notebook at the default profile can then set its verdicts
beside the full design's, where that file was made by the code its plan runs now
(dml_utils.results.full_profile_results).

A second check: `--check NAME` runs a notebook at the default profile with the values its study
names for that check (``CHECKS`` in its parameters module: notebook 06's Fashion-MNIST check) and,
when the whole notebook ran, keeps its results JSON in results/checks/<notebook>.<NAME>.json (its
notebook and figures stay under build/check-<NAME>/); the notebook at its default profile reads it
beside its own verdicts (dml_utils.results.check_results).

Any other run (another profile, any -p parameter, a seed shift DML_SEED_OFFSET) writes under build/<profile>/ and never
touches a committed file; so does a run that fails, whose partial notebook is kept in
build/failed/.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

try:
    import nbformat
    import papermill as pm
except ModuleNotFoundError as err:  # run by a Python without the project's environment
    sys.exit(
        f"error: {err.name} is not installed in this Python ({sys.executable}). Run the script in the project's "
        f"environment: .venv/bin/python scripts/run_notebooks.py … (or `source .venv/bin/activate` first; "
        f"`make env` creates .venv)"
    )

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_ENV = "DML_UTILS_OUTPUT_DIR"  # dml_utils.config.OUTPUT_ENV; read there, set only here
PROGRESS_ENV = "DML_PROGRESS"  # dml_utils.progress.ENV
SEED_OFFSET_ENV = "DML_SEED_OFFSET"  # dml_utils.seeds.SEED_OFFSET_ENV: a shifted run is never published
MAX_SEED_OFFSET = 2**62  # dml_utils.parameters.MAX_SEED: a shifted seed must stay below torch's 2**64
CACHE_ENV = "DML_RUN_CACHE"  # dml_utils.runs.CACHE_ENV: where the run cache lives; empty: no cache
EXECUTOR_ENV = "DML_EXECUTOR"  # dml_utils.executors.EXECUTOR_ENV: where each plan's runs run
SOURCES_KEY = "dml_published_sources"  # notebook metadata: digest of the cells it was published from


def run_cache_location(raw: str, cwd: Path) -> tuple[Path | None, str | None]:
    """Where ``DML_RUN_CACHE`` (``raw``) puts the run cache, resolved where the command was typed
    (``cwd``; the kernels run in notebooks/ and would resolve a relative path there), created if
    missing; or the reason it cannot be used, naming the variable and the fix. An empty value: no
    cache (None, None)."""
    raw = raw.strip()
    if not raw:
        return None, None
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else (cwd / path)
    fix = f"point {CACHE_ENV} at a folder this user can write (it is created if missing), or set it empty for no cache"
    if path.exists() and not path.is_dir():
        return None, f"{CACHE_ENV}={raw!r} is {path}, a file, not a folder: {fix}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return None, f"{CACHE_ENV}={raw!r}: {path} cannot be created ({err.strerror or err}): {fix}"
    if not os.access(path, os.W_OK | os.X_OK):
        return None, f"{CACHE_ENV}={raw!r}: {path} cannot be written: {fix}"
    return path.resolve(), None


def _compare_results():
    """scripts/compare_results.py, loaded by path (it is a script beside this one, not a module)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("compare_results", Path(__file__).with_name("compare_results.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sources_digest(nb: nbformat.NotebookNode) -> str:
    """A digest of the notebook's code cells (papermill's injected cell left out): what makes its
    outputs. Prose (markdown cells), outputs and metadata are not in it: a prose edit is kept in
    place and needs no rerun."""
    import hashlib

    h = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code" and "injected-parameters" not in cell.metadata.get("tags", []):
            h.update(cell.source.encode() + b"\0")
    return h.hexdigest()[:20]


def nothing_new(stage: Path, root: Path, notebook: str, committed: nbformat.NotebookNode) -> str | None:
    """Why a complete run staged in ``stage`` would publish nothing new, or None when it would:
    its results equal the committed ones but for what no rerun repeats (compare_results), its
    figures are the committed figures byte for byte, and ``committed`` (the notebook as it was
    before the run) is unchanged since it was published."""
    if committed.metadata.get(SOURCES_KEY) != sources_digest(committed):
        return None  # edited since it was published, or published before the digest existed
    staged = {p.name: p for p in (stage / "figures").glob(f"{notebook}_*.png")}
    published = {p.name: p for p in (root / "figures").glob(f"{notebook}_*.png")}
    if staged.keys() != published.keys() or any(p.read_bytes() != published[n].read_bytes() for n, p in staged.items()):
        return None
    new, old = stage / "results" / f"{notebook}.json", root / "results" / f"{notebook}.json"
    if not (new.is_file() and old.is_file()):
        return None
    import json

    try:
        diffs = _compare_results().differences(json.loads(old.read_text()), json.loads(new.read_text()))
    except ValueError:  # a committed results file that is not JSON: publish over it
        return None
    if diffs:
        return None
    return f"results equal the committed ones (compare_results: 0 differences), {len(staged)} figure(s) byte-identical"


def unknown_parameters(notebooks: list[Path], params: dict) -> str | None:
    """A message naming every -p parameter some notebook does not know, before anything runs."""
    from dml_utils.studies import STUDIES, known_parameters

    for nb in notebooks:
        if nb.stem not in STUDIES:
            continue  # main() reports a missing notebook
        bad = sorted(set(params) - {"profile"} - known_parameters(nb.stem))
        if bad:
            return f"{nb.stem} does not know {bad}; known: {sorted(known_parameters(nb.stem))}"
    return None


def parameters_cell_profile(nb: nbformat.NotebookNode) -> str | None:
    """The literal ``profile`` the notebook's ``parameters`` cell sets, or None."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            for node in ast.parse(cell.source).body:
                target = getattr(node, "target", None) or (node.targets[0] if getattr(node, "targets", None) else None)
                if isinstance(target, ast.Name) and target.id == "profile" and node.value is not None:
                    return ast.literal_eval(node.value)
    return None


def clean_for_commit(nb: nbformat.NotebookNode, *, keep_injected: bool) -> int:
    """Drop progress-bar outputs (and, unless ``keep_injected``, papermill's injected-parameters
    cell) in place. Returns the number of outputs dropped."""
    from dml_utils.progress import is_progress_output

    if not keep_injected:
        nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):  # this machine's absolute paths: keep the file names only
        if meta.get(key):
            meta[key] = Path(meta[key]).name
    dropped = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            kept = [o for o in cell.outputs if not is_progress_output(o)]
            dropped += len(cell.outputs) - len(kept)
            cell.outputs = kept
    return dropped


def publish(stage: Path, root: Path, notebook: str) -> list[str]:
    """Copy a complete run's staged figures and results into the committed folders. A file with
    the same bytes is left alone (its modification time too); a committed figure of this
    notebook that the run did not make is removed. Returns a line per change."""
    changes = []
    for sub, pattern in (("figures", f"{notebook}_*.png"), ("results", f"{notebook}.json")):
        made = {p.name: p for p in sorted((stage / sub).glob(pattern))}
        dest = root / sub
        dest.mkdir(exist_ok=True)
        for name, src in made.items():
            target = dest / name
            if target.exists() and target.read_bytes() == src.read_bytes():
                continue
            changes.append(f"{'updated' if target.exists() else 'new'} {sub}/{name}")
            os.replace(src, target)
        for old in sorted(dest.glob(pattern)):
            if old.name not in made:
                old.unlink()
                changes.append(f"removed {sub}/{old.name} (this run no longer makes it)")
    return changes


def keep_full_results(root: Path, notebook: str) -> str:
    """Copy a complete full-profile run's results JSON (build/full/results/) into results/full/,
    atomically; a file with the same bytes is left alone. Returns what it did."""
    return _keep(
        root / "build" / "full" / "results" / f"{notebook}.json", root, "full", f"{notebook}.json", "full profile"
    )


def keep_check_results(root: Path, notebook: str, check: str) -> str:
    """Copy a complete second check's results JSON (build/check-<check>/results/) into
    results/checks/<notebook>.<check>.json, as :func:`keep_full_results`."""
    src = root / "build" / f"check-{check}" / "results" / f"{notebook}.json"
    return _keep(src, root, "checks", f"{notebook}.{check}.json", f"{check} check")


def _keep(src: Path, root: Path, folder: str, name: str, what: str) -> str:
    if not src.exists():
        return f"no {_rel(src, root)}: this notebook writes no results file there; nothing kept"
    dest = root / "results" / folder / name
    if dest.exists() and dest.read_bytes() == src.read_bytes():
        return f"results/{folder}/{name} unchanged"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    return f"kept results/{folder}/{name} (the {what}'s numbers, read by the notebook at its default profile)"


def check_values(notebook: str, check: str) -> dict:
    """The values a study names for its second check ``check`` (its parameters module's CHECKS)."""
    from dml_utils.studies import STUDIES

    checks = getattr(STUDIES[notebook].parameters, "CHECKS", {}) if notebook in STUDIES else {}
    if check not in checks:
        raise ValueError(f"{notebook} has no check {check!r}; its checks: {sorted(checks) or 'none'}")
    return dict(checks[check])


def main(argv=None, root: Path = ROOT) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--profile", default="default", choices=["smoke", "default", "full", "paper"])
    ap.add_argument(
        "--baseline", action="store_true", help="write the executed notebooks to tests/regression/ (nbval baselines)"
    )
    ap.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="extra notebook parameter (value parsed as Python literal when possible); the run then "
        "writes under build/ and publishes nothing",
    )
    ap.add_argument(
        "--no-cache",
        action="store_true",
        help=f"train every run and store nothing (default: the run cache in ${CACHE_ENV}, else build/cache/runs)",
    )
    ap.add_argument(
        "--check",
        metavar="NAME",
        help="a study's second check (its CHECKS): the default profile with the check's values; its results JSON "
        "is kept in results/checks/",
    )
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, metavar="N", help="run each plan's runs on a local pool of N workers")
    where.add_argument(
        "--executor", metavar="KIND", help="serial, pool:N, dask:N, dask:tcp://HOST:PORT or slurm:PARTITION"
    )
    args = ap.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        ap.error(f"--jobs {args.jobs}: give a whole number of workers, 1 or more")
    executor = f"pool:{args.jobs}" if args.jobs is not None else args.executor
    if executor is not None:
        from dml_utils.executors import parse_executor
        from dml_utils.parameters import ConfigError

        try:
            parse_executor(executor)  # the name only: a scheduler is reached where the runs go
        except ConfigError as err:
            ap.error(str(err))
        os.environ[EXECUTOR_ENV] = executor
        workers = int(executor.split(":")[1]) if executor.startswith("pool:") else 0
        if workers > 1 and 2 * workers > (os.cpu_count() or 1):
            print(
                f"note: {workers} workers × 2 threads per run (the published thread count) on {os.cpu_count()} cores "
                f"oversubscribes them: on a 2-core machine 2 × 2 ran 2.8× slower than the serial default "
                f"(benchmarks/bench_executors.py); --jobs pays on machines with 2 cores per worker"
            )
    params = {"profile": args.profile}
    for name, value in args.parameter:
        if name == "profile":
            ap.error("set the profile with --profile, not -p profile")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    problem = unknown_parameters(args.notebooks, params)
    if problem:
        ap.error(problem)
    shift = os.environ.get(SEED_OFFSET_ENV, "").strip()
    if shift:  # read as the kernels read it (dml_utils.seeds.seed_offset): "00" is no shift
        try:
            value = int(shift)
        except ValueError:
            ap.error(
                f"{SEED_OFFSET_ENV}={shift!r} is not an integer; set a whole number (e.g. {SEED_OFFSET_ENV}=1) "
                "or unset it for the committed seeds"
            )
        if not 0 <= value <= MAX_SEED_OFFSET:
            ap.error(
                f"{SEED_OFFSET_ENV}={shift} is outside 0 … 2**62 (seeds stay >= 0, and torch takes none from "
                f"2**64 on); use a small shift, e.g. {SEED_OFFSET_ENV}=1000"
            )
        shift = "" if value == 0 else str(value)
    if shift not in ("", "0") and args.baseline:
        ap.error(f"{SEED_OFFSET_ENV}={shift}: baselines are made at the committed seeds; unset it")
    publishing = args.profile == "default" and len(params) == 1 and not args.baseline and shift in ("", "0")
    keep_full = args.profile == "full" and len(params) == 1 and not args.baseline and shift in ("", "0")
    if args.check is not None:
        if args.profile != "default" or len(params) > 1 or args.baseline or shift not in ("", "0"):
            ap.error(
                "--check runs the default profile with the check's own values at the committed seeds: "
                "drop --profile, -p, --baseline and DML_SEED_OFFSET"
            )
        publishing = False
    if shift not in ("", "0"):
        print(
            f"note: {SEED_OFFSET_ENV}={shift} moves every run seed; this run writes under build/ and publishes nothing"
        )
    notebooks = []
    for nb in args.notebooks:
        nb = nb.resolve()
        if not nb.is_file():
            print(f"error: no notebook {nb}", file=sys.stderr)
            return 2
        problem = not_a_repository_notebook(nb, root)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        if publishing and parameters_cell_profile(nbformat.read(nb, as_version=4)) != "default":
            print(
                f'error: {nb.name}\'s parameters cell does not set profile = "default"; a published notebook '
                f"must run its own parameters cell as committed",
                file=sys.stderr,
            )
            return 2
        notebooks.append(nb)
    os.environ[PROGRESS_ENV] = "text"  # the kernels inherit it: text bars, stripped below
    if args.no_cache:
        os.environ[CACHE_ENV] = ""
    else:
        cache, problem = run_cache_location(
            os.environ.get(CACHE_ENV, str(root / "build" / "cache" / "runs")), Path.cwd()
        )
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        os.environ[CACHE_ENV] = "" if cache is None else str(cache)
        print(f"run cache: {cache if cache is not None else 'none'} ({CACHE_ENV})")
    failed, stopped = [], []
    for nb in notebooks:
        stage = root / "build" / "stage" / nb.stem
        try:
            lock = take_lock(stage)
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            failed.append(nb.name)
            continue
        try:
            if args.check is not None:
                try:
                    values = check_values(nb.stem, args.check)
                except ValueError as err:
                    print(f"error: {err}", file=sys.stderr)
                    failed.append(nb.name)
                    continue
                ok = run_one(nb, stage, root, args.profile, params | values, False, False, check=args.check)
                if ok:
                    print(f"  {keep_check_results(root, nb.stem, args.check)}", flush=True)
            else:
                ok = run_one(nb, stage, root, args.profile, params, publishing, args.baseline)
            if ok and keep_full:
                print(f"  {keep_full_results(root, nb.stem)}", flush=True)
        except FillStopped as stop:
            print(f"ledger fill stopped cleanly, {stop}; nothing published", flush=True)
            stopped.append(nb.name)
            continue
        except KeyboardInterrupt:
            keep = keep_partial(stage / nb.name, root, nb.name)
            print(
                f"\ninterrupted during {nb.name}: no committed file changed"
                + (f"; the partial run is in {_rel(keep, root)}" if keep else ""),
                file=sys.stderr,
            )
            return 130
        finally:
            lock.unlink(missing_ok=True)
        if not ok:
            failed.append(nb.name)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    if stopped:
        print(f"the ledger holds every run that finished; run the same command again to continue: {', '.join(stopped)}")
    return 0


class FillStopped(Exception):
    """A notebook's ledger fill ended at its budget or its slice (``dml_utils.ledger.LedgerStop``)."""


def not_a_repository_notebook(nb: Path, root: Path) -> str | None:
    """Why ``nb`` is not one of this repository's numbered notebooks (notebooks/NN_*.ipynb, a
    notebook file), or None: the script publishes over its input, so it runs nothing else."""
    if (
        nb.parent != (root / "notebooks").resolve()
        or nb.suffix != ".ipynb"
        or not nb.name[:3].replace("_", "").isdigit()
    ):
        return (
            f"{nb} is not a numbered notebook of this repository (notebooks/NN_*.ipynb under {root}); "
            "to run another notebook, use papermill with an output path of your own"
        )
    try:
        nbformat.read(nb, as_version=4)
    except Exception as err:  # nbformat's NotJSONError, a validation error, bad encoding
        return f"{_rel(nb, root)} is not a readable notebook ({type(err).__name__}): restore it with `git checkout -- {_rel(nb, root)}`"
    return None


def take_lock(stage: Path) -> Path:
    """A lock file beside the staging folder, so that two runs of one notebook at once do not
    delete each other's staging folder: refused while the other run's process lives, taken over
    when it is gone."""
    lock = stage.with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            with open(lock, "x") as f:
                f.write(str(os.getpid()))
            return lock
        except FileExistsError:
            try:
                pid = int(lock.read_text() or 0)
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError):
                lock.unlink(missing_ok=True)  # the run that held it is gone
                continue
            except PermissionError:
                pass  # alive, under another user
            raise RuntimeError(
                f"another run of {stage.name} is in progress (process {pid}, lock {lock}); wait for it or stop it"
            )
    raise RuntimeError(f"cannot take the lock {lock}; remove it if no run of {stage.name} is going on")


def keep_partial(out: Path, root: Path, name: str) -> Path | None:
    """Move a failed or interrupted run's partial notebook to build/failed/ (None when there is none)."""
    keep = root / "build" / "failed" / name
    if not out.exists():
        return None
    keep.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(out, keep)
    return keep


def ipc_kernel_manager(folder: Path):
    """A kernel manager class whose kernels talk over IPC sockets in ``folder`` (files only this user
    can open) instead of TCP ports on 127.0.0.1. Written here because papermill starts its kernels
    over TCP, and ipykernel then warns on every run that the traffic is not encrypted, a line that
    hides the messages that matter; on Windows, which has no IPC transport, the default stays."""
    from jupyter_client.manager import AsyncKernelManager

    if os.name == "nt":
        return AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", str(folder / "kernel"))
            super().__init__(**kwargs)

    return IPCKernelManager


def run_one(
    nb: Path,
    stage: Path,
    root: Path,
    profile: str,
    params: dict,
    publishing: bool,
    baseline: bool,
    check: str | None = None,
) -> bool:
    """Run one notebook into ``stage`` and put it where it belongs (publishing: figures/, results/
    and the committed notebook; a ``check``: build/check-<check>/). False when it failed, reported
    here, its partial run kept in build/failed/."""
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    committed = nbformat.read(nb, as_version=4)  # as it was before this run
    if publishing:
        os.environ[OUTPUT_ENV] = str(stage)
        target = nb
    elif check is not None:
        out_dir = root / "build" / f"check-{check}"
        (out_dir / "results" / f"{nb.stem}.json").unlink(missing_ok=True)  # kept only if this run writes it
        os.environ[OUTPUT_ENV] = str(out_dir)
        target = out_dir / "notebooks" / nb.name
    else:
        os.environ.pop(OUTPUT_ENV, None)
        target = (
            root / "tests" / "regression" / nb.name if baseline else root / "build" / profile / "notebooks" / nb.name
        )
    out = stage / nb.name
    start = time.perf_counter()
    print(
        f"== {_rel(nb, root)} (profile {profile}{', ' + str(params) if len(params) > 1 else ''}) -> "
        f"{_rel(target, root)}{' and figures/, results/' if publishing else ''}",
        flush=True,
    )
    try:
        # publishing injects nothing: the committed notebook runs its own parameters cell
        with tempfile.TemporaryDirectory(prefix="dml-kernel-") as sockets:
            pm.execute_notebook(
                str(nb),
                str(out),
                parameters=None if publishing else params,
                cwd=str(nb.parent),
                kernel_name="python3",
                progress_bar=False,
                stderr_file=sys.stderr,
                kernel_manager_class=ipc_kernel_manager(Path(sockets)),
            )  # bars shown here
    except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
        keep = keep_partial(out, root, nb.name)
        last = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        if getattr(exc, "ename", "") == "LedgerStop":  # a fill at its budget or slice: what finished is filed
            raise FillStopped(f"{nb.name}: {getattr(exc, 'evalue', last)}") from None
        print(
            f"FAILED {nb.name} after {time.perf_counter() - start:.0f} s: {type(exc).__name__}: {last}\n"
            f"  no committed file changed" + (f"; the partial run is in {_rel(keep, root)}" if keep else ""),
            file=sys.stderr,
        )
        return False
    finally:
        os.environ.pop(OUTPUT_ENV, None)
    executed = nbformat.read(out, as_version=4)
    clean_for_commit(executed, keep_injected=not publishing)
    target.parent.mkdir(parents=True, exist_ok=True)
    if publishing:
        same = nothing_new(stage, root, nb.stem, committed)
        if same:
            print(
                f"ok {nb.name}: {time.perf_counter() - start:.0f} s; nothing new, nothing published: {same}", flush=True
            )
            return True
        for line in publish(stage, root, nb.stem):
            print(f"  {line}", flush=True)
        executed.metadata[SOURCES_KEY] = sources_digest(executed)
    nbformat.write(executed, out)
    os.replace(out, target)
    print(f"ok {nb.name}: {time.perf_counter() - start:.0f} s", flush=True)
    return True


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
