"""Run the VK emulator with the demo's data until stopped (`make demo` starts it).

python -m tests.emulators.run_vk --port 8091
"""

import argparse

from tests.emulators.base import wait_for_stop
from tests.emulators.vk import VkEmulator
from tests.emulators.vk_messages import VkMessages
from tests.emulators.vk_wall import build_wall, install_wall

DEMO_TOKENS = {"demo-vk-token-1": "user", "demo-vk-token-2": "user", "demo-vk-token-3": "service"}
DEMO_COMMUNITY_TOKEN = "demo-vk-community-token"
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
    # The community's own token: dialogs (mailing) need it, and as an admin it may read reposts.
    emulator.add_token(
        DEMO_COMMUNITY_TOKEN, "community", label="demo-community", group_id=DEMO_GROUP_ID, admin={DEMO_GROUP_ID: 3}
    )
    build_wall(install_wall(emulator), DEMO_GROUP_ID, posts=600, seed=1)
    VkMessages(emulator).install().add_dialogs(DEMO_GROUP_ID, users=400)
    emulator.start()
    print(f"VK emulator on {emulator.url} ({DEMO_MEMBERS} members in club{DEMO_GROUP_ID})", flush=True)
    wait_for_stop()
    emulator.stop()


if __name__ == "__main__":
    main()
