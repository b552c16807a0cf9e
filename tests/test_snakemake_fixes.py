"""The work-around for Snakemake's SIGTERM deadlock (esm1v_scan.pipeline.snakemake_fixes): the
scheduler's handler, called while the main thread holds the scheduler's lock (as a signal can
arrive), returns at once and stops the run once the lock is free; unpatched it waits forever."""

import threading
import time

from snakemake.scheduling.job_scheduler import JobScheduler

from esm1v_scan.pipeline import snakemake_fixes


class _Scheduler:
    """The parts of Snakemake's JobScheduler that its SIGTERM handler touches."""

    exit_gracefully = JobScheduler.exit_gracefully

    def __init__(self):
        self._lock = threading.Lock()
        self._open_jobs = threading.Semaphore(0)
        self._user_kill = None


def _signal_while_holding_the_lock(scheduler) -> float:
    """Call the handler as a signal would: in this thread, with the lock held. Seconds it took
    (None: still waiting after 2 s, the deadlock; the lock is then released to end the wait)."""
    done = threading.Event()
    t0 = time.monotonic()

    def handler():
        scheduler.exit_gracefully(15, None)
        done.set()

    with scheduler._lock:
        # a thread stands in for the main thread's signal frame, so that the test cannot hang
        caller = threading.Thread(target=handler, daemon=True)
        caller.start()
        returned = done.wait(2.0)
    caller.join(5)
    return time.monotonic() - t0 if returned else None


def test_unpatched_handler_waits_for_the_lock_its_thread_holds():
    # the bug itself, with Snakemake's handler: it cannot return while the lock is held
    assert _signal_while_holding_the_lock(_Scheduler()) is None


def test_patched_handler_returns_at_once_and_stops_the_run_when_the_lock_is_free():
    cls = type("Scheduler", (_Scheduler,), {"exit_gracefully": _Scheduler.exit_gracefully})
    assert snakemake_fixes.handle_sigterm_off_the_main_thread(cls) is True
    assert snakemake_fixes.handle_sigterm_off_the_main_thread(cls) is False  # once only
    scheduler = cls()
    took = _signal_while_holding_the_lock(scheduler)
    assert took is not None and took < 1.0
    # the lock is free now: the handler's thread set the flag and woke the scheduler's loop
    assert scheduler._open_jobs.acquire(timeout=5)
    assert scheduler._user_kill == "graceful"


def test_the_workflow_installs_it_on_snakemake_s_scheduler():
    snakemake_fixes.install()
    assert getattr(JobScheduler.exit_gracefully, "esm1v_scan_off_main_thread", False)
