"""Run the OpenAI emulator until stopped, so the demo writes emails without a real key.

python -m tests.emulators.run_openai --port 8093

The port comes from --port, else OPENAI_EMULATOR_PORT (8093); the key it accepts from
--api-key, else OPENAI_API_KEY, else "demo-openai-key". Point the app at it with
OPENAI_BASE_URL=http://127.0.0.1:8093/v1 and the same OPENAI_API_KEY.
"""

import argparse
import os

from tests.emulators.base import wait_for_stop
from tests.emulators.openai import OpenAIEmulator

DEMO_PORT = 8093
DEMO_KEY = "demo-openai-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("OPENAI_EMULATOR_PORT") or DEMO_PORT))
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY") or DEMO_KEY)
    args = parser.parse_args()
    emulator = OpenAIEmulator(port=args.port, api_key=args.api_key)
    emulator.start()
    print(f"OpenAI emulator on {emulator.url}", flush=True)  # the key is not printed
    wait_for_stop()
    emulator.stop()


if __name__ == "__main__":
    main()
