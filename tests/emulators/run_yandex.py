"""Run the Yandex Search API emulator for the demo until stopped (`make demo` starts it).

python -m tests.emulators.run_yandex --port 8092 [--sites-port 8094] [--operation-delay 10]

It accepts the static IAM token and folder of tests/emulators/demo_outreach.py (DEMO_ENV
sets YANDEX_CLOUD_IAM_TOKEN and YANDEX_CLOUD_FOLDER_ID to them), finishes each deferred
search after --operation-delay seconds, and answers every query with the demo sites that
run_sites.py serves on 127.0.0.2, 127.0.0.3, ... at --sites-port.
"""

import argparse

from tests.emulators.base import wait_for_stop
from tests.emulators.demo_outreach import (
    OPERATION_DELAY,
    SITES_PORT,
    YANDEX_PORT,
    demo_yandex,
    site_urls,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=YANDEX_PORT)
    parser.add_argument("--sites-port", type=int, default=SITES_PORT)
    parser.add_argument("--operation-delay", type=float, default=OPERATION_DELAY)
    args = parser.parse_args()
    emulator = demo_yandex(site_urls(args.sites_port), port=args.port, operation_delay=args.operation_delay)
    emulator.start()
    print(f"Yandex emulator on {emulator.base_url} (searches done after {args.operation_delay:g} s)", flush=True)
    wait_for_stop()
    emulator.stop()


if __name__ == "__main__":
    main()
