"""One delivery worker process: runs deliver_due until nothing is due, then prints a JSON summary.

    DJANGO_SETTINGS_MODULE=tests.settings DATABASE_URL=... EMAIL_SENDING_ENABLED=true \
        python -m tests.outreach.delivery_worker --batch-size 20 --lease 300

Used by the concurrency tests and the benchmark, which start several at once as real OS
processes (each its own interpreter and database connection) and may SIGKILL one.
"""

import argparse
import json
import os
import time
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--lease", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from outreach.services.deliver import deliver_due

    totals: Counter = Counter()
    started = time.time()
    while True:
        result = deliver_due(batch_size=args.batch_size, lease_seconds=args.lease)
        totals.update(result.counts())
        if not result.touched:
            break
    print(json.dumps({"pid": os.getpid(), "started": started, "finished": time.time(), **totals}), flush=True)


if __name__ == "__main__":
    main()
