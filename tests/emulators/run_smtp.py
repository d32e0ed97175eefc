"""Run the demo's SMTP server until stopped (`make demo` starts it): it accepts every email and
writes each one as an .eml file, which admin lists (Outreach messages -> "Demo mailbox").

python -m tests.emulators.run_smtp --port 8025 [--dir var/demo_mail]

The directory defaults to DEMO_MAIL_DIR, else var/demo_mail (relative to the project). Nothing
is relayed anywhere: this is where the demo's outreach emails end up.
"""

import argparse

from tests.emulators.base import wait_for_stop
from tests.emulators.demo_outreach import SMTP_PORT, CaptureSmtpServer, mail_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=SMTP_PORT)
    parser.add_argument("--dir", default=None, help="where to write the .eml files")
    args = parser.parse_args()
    server = CaptureSmtpServer(mail_dir(args.dir), port=args.port).start()
    print(f"SMTP capture server on {server.host}:{server.port}, writing to {server.directory}", flush=True)
    wait_for_stop()
    server.stop()


if __name__ == "__main__":
    main()
