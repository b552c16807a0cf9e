"""Work-arounds for Snakemake bugs that this workflow's users would meet, installed by
rules/common.smk in the main Snakemake process. Each says which version it was seen in.

SIGTERM deadlock (Snakemake 9.27.1): the scheduler's SIGTERM handler
(``JobScheduler.exit_gracefully``) runs in the main thread and takes the scheduler's lock, a plain
``threading.Lock``. When the signal arrives while the main thread itself holds that lock (it does
while it selects and starts jobs, more often on a busy machine), the handler waits for a lock that
its own thread holds: the run never ends, and a second SIGTERM waits behind the first. Seen as a
run still waiting minutes after ``kill -TERM`` (tests/test_reproducibility.py). The fix runs the
unchanged handler in a short-lived thread, so the main thread returns from the signal at once,
releases the lock in its own time, and the handler then stops the run as Snakemake means it to.
"""

from __future__ import annotations

import threading


def handle_sigterm_off_the_main_thread(scheduler_class) -> bool:
    """Wrap ``scheduler_class.exit_gracefully`` (once) so that it runs in its own thread.
    Returns whether the class was patched now (False: already patched or no such method)."""
    handler = getattr(scheduler_class, "exit_gracefully", None)
    if handler is None or getattr(handler, "esm1v_scan_off_main_thread", False):
        return False

    def exit_gracefully(self, *args):
        threading.Thread(target=handler, args=(self, *args), name="esm1v-scan-sigterm",
                         daemon=True).start()

    exit_gracefully.esm1v_scan_off_main_thread = True
    exit_gracefully.__doc__ = handler.__doc__
    scheduler_class.exit_gracefully = exit_gracefully
    return True


def install() -> None:
    """Install every work-around that applies to the Snakemake in use."""
    from snakemake.scheduling.job_scheduler import JobScheduler

    handle_sigterm_off_the_main_thread(JobScheduler)
