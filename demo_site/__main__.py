"""``python -m demo_site [--host 127.0.0.1] [--port 8000] [--consent-log PATH]``"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from .app import SECRET_ENV, create_app, secret_from_environment

WARNING = f"""\
WARNING: consentgate demo site, for development only.
WARNING: it signs consent cookies with a secret generated at start (set {SECRET_ENV} to keep
WARNING: choices across restarts); never use this site, or a generated secret, in production.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_site", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--consent-log",
        default="consentgate.sqlite3",
        help="where choices are recorded (a SQLite path or postgresql:// URL; "
        "default: ./consentgate.sqlite3)",
    )
    args = parser.parse_args(argv)
    secret, generated = secret_from_environment()
    if generated:
        print(WARNING, file=sys.stderr, flush=True)
    else:
        print(
            f"WARNING: consentgate demo site, for development only ({SECRET_ENV} is set).",
            file=sys.stderr,
            flush=True,
        )
    app = create_app(secret, consent_log=args.consent_log)
    print(f"consentgate demo: http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
