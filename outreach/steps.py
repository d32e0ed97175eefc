"""The pipeline's steps by name: what the command, the Celery tasks and the admin buttons run.

Each step calls one service and returns its counts. `run_once` runs them all in
pipeline order; a step that fails is reported with its error and the rest still run
(a missing sheet does not stop mail that is already due).
"""

from collections.abc import Callable


class StepError(Exception):
    """A step cannot run as configured (said in one line to the operator)."""


def sync_sheet(batch_tag=None) -> dict:
    from .services.sheet_sync import sync_sheet

    return sync_sheet(batch_tag=batch_tag).counts()


def search(batch_tag=None) -> dict:
    from .services.search import start_due_queries

    return start_due_queries().counts()


def poll(batch_tag=None) -> dict:
    from .services.search import poll_operations

    return poll_operations().counts()


def dedupe(batch_tag=None) -> dict:
    from .services.companies import dedupe

    return dedupe()


def enrich(batch_tag=None) -> dict:
    from .services.enrich import enrich_companies

    return enrich_companies().counts()


def generate(batch_tag=None) -> dict:
    from .services.generate import NoOfferBrief, generate_messages

    try:
        return generate_messages().counts()
    except NoOfferBrief as exc:
        raise StepError(str(exc)) from None


def queue(batch_tag=None) -> dict:
    from .services.queue import queue_messages

    return queue_messages().counts()


def deliver(batch_tag=None) -> dict:
    from .services.deliver import deliver_due, expire_leases

    expired = expire_leases()
    return {**deliver_due().counts(), "expired_leases": expired}


STEP_FUNCTIONS: dict[str, Callable[..., dict]] = {
    "sync-sheet": sync_sheet,
    "search": search,
    "poll": poll,
    "dedupe": dedupe,
    "enrich": enrich,
    "generate": generate,
    "queue": queue,
    "deliver": deliver,
}
STEPS = list(STEP_FUNCTIONS)


def run_step(name: str, *, batch_tag=None) -> dict:
    return STEP_FUNCTIONS[name](batch_tag=batch_tag)


def run_once(*, batch_tag=None, reporter=None) -> dict:
    """Every step once, in order. With a JobReporter the job shows each step as it finishes."""
    outcomes = {}
    if reporter is not None:
        reporter.set_total(len(STEPS))
    for name in STEPS:
        try:
            outcomes[name] = run_step(name, batch_tag=batch_tag)
        except Exception as exc:  # noqa: BLE001 - reported per step; the next steps still run
            outcomes[name] = {"error": f"{type(exc).__name__}: {exc}"}
        if reporter is not None:
            reporter.log(f"{name}: {outcomes[name]}")
            reporter.count("steps_failed" if "error" in outcomes[name] else "steps_done")
            reporter.advance()
    return outcomes


def run_once_job(*, job_id: int) -> dict:
    """`run_once` as a JobRun (the admin's "Run the pipeline once" button)."""
    from leadops.jobs import track_job

    with track_job(job_id) as reporter:
        return run_once(reporter=reporter)
