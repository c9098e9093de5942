"""The local cloud's data plane: moto, pinned, with the gaps this stack hits
closed, served on one loopback port.

invctl starts it from the project's venv (`invctl local up`); the tests start
it the same way. The corrections live in the `launcher` package beside this
file, one module per service they patch (their table is
`launcher/patches.py`), with the IAM layer (`launcher/guard.py`, evaluating
through `launcher/iam.py`), the fault layer (`launcher/faults.py`) and the
request counter (`launcher/counter.py`) in front of moto, served by
`launcher/server.py`. Each correction
names the place in moto it corrects (paths relative to site-packages/moto,
lines of 5.2.5) and has a test in tests/local_patches.rs that fails without
it; `--without NAME` leaves one out, which is how those tests show the gap is
real.

Usage: moto_launcher.py --port PORT [--host 127.0.0.1] [--plane URL]
                        [--without PATCH]... [--time-scale N]
  --plane URL       invctl's execution plane: Lambda invocations, Function
                    URLs and mail go there.
  --time-scale N    workflow timeouts and waits pass N times faster.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from launcher import iam  # noqa: E402  (beside this file)
from launcher.activity import report_activity  # noqa: E402
from launcher.awslambda import serve_lambda_code  # noqa: E402
from launcher.faults import serve_faults  # noqa: E402
from launcher.guard import IAM  # noqa: E402
from launcher.patches import PATCHES  # noqa: E402
from launcher.server import serve  # noqa: E402
from launcher.stepfunctions import time_scale, workflow_callers  # noqa: E402

MOTO_VERSION = "5.2.5"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--plane", default=None)
    parser.add_argument("--without", action="append", default=[], choices=sorted(PATCHES))
    parser.add_argument("--time-scale", type=int, default=1)
    # AWS's default; a new account has 10.
    parser.add_argument("--concurrency-quota", type=int, default=1000)
    parser.add_argument("--iam", default="enforce", choices=iam.MODES)
    args = parser.parse_args()
    IAM["mode"] = args.iam
    # Where the Step Functions interpreter calls moto back (it reads this).
    os.environ["MOTO_PORT"] = str(args.port)

    import moto

    if moto.__version__ != MOTO_VERSION:
        sys.exit(
            f"moto_launcher: written for moto {MOTO_VERSION}, found {moto.__version__}; "
            f"install tools/requirements.txt (scripts/setup-tools.sh)"
        )

    from moto.core.config import default_user_config

    default_user_config.update(
        {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    )
    for name, patch in PATCHES.items():
        if name not in args.without:
            patch(args)
    report_activity()
    workflow_callers(args)
    if args.time_scale > 1:
        time_scale(args.time_scale)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )

    app = DomainDispatcherApplication(create_backend_app)
    if "lambda-code-location" not in args.without:
        app = serve_lambda_code(app)
    app = serve_faults(app)
    print(f"moto {MOTO_VERSION} on http://{args.host}:{args.port}", flush=True)
    serve(app, args.host, args.port)


if __name__ == "__main__":
    main()
