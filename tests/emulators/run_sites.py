"""Run the demo companies' websites until stopped (`make demo` starts them).

python -m tests.emulators.run_sites --port 8094

Each site has its own loopback address (127.0.0.2, 127.0.0.3, ...) on --port: the
pipeline keys companies by host, so they must differ. See tests/emulators/demo_outreach.py.
"""

import argparse

from tests.emulators.base import wait_for_stop
from tests.emulators.demo_outreach import SITES_PORT, DemoSites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=SITES_PORT)
    args = parser.parse_args()
    sites = DemoSites(port=args.port)
    try:
        sites.start()
    except OSError as exc:
        # Not fatal to the demo: honcho stops every process when one exits. (macOS has only 127.0.0.1
        # on lo0: `sudo ifconfig lo0 alias 127.0.0.2 up`, and so on for .3 to .6.)
        sites.stop()
        print(f"Demo sites not started, so outreach enrichment finds nothing: {exc}", flush=True)
    else:
        print("Demo sites: " + ", ".join(sites.urls().values()), flush=True)
    wait_for_stop()
    sites.stop()


if __name__ == "__main__":
    main()
