"""Run the VK emulator with the demo's data until stopped (`make demo` starts it).

python -m tests.emulators.run_vk --port 8091
"""

import argparse
import signal
import threading

from tests.emulators.vk import VkEmulator

DEMO_TOKENS = {"demo-vk-token-1": "user", "demo-vk-token-2": "user", "demo-vk-token-3": "service"}
DEMO_GROUP_ID = 1
DEMO_MEMBERS = 120_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args()
    emulator = VkEmulator(port=args.port)
    for n, (secret, kind) in enumerate(DEMO_TOKENS.items(), 1):
        emulator.add_token(secret, kind, label=f"demo-{n}")
    emulator.add_group(DEMO_GROUP_ID, "Demo VK community", screen_name="demo_vk_club", members=DEMO_MEMBERS)
    emulator.start()
    print(f"VK emulator on {emulator.url} ({DEMO_MEMBERS} members in club{DEMO_GROUP_ID})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
