"""``pip install .`` (not editable) into a fresh virtualenv: the installed package finds its own
static assets and templates, far from the source checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from consentgate.pages import minified

ROOT = Path(__file__).resolve().parent.parent

# Runs inside the fresh venv. No test client there (httpx is not a runtime dependency): the
# app is driven as plain ASGI.
PROBE = r"""
import asyncio, json, sys, sysconfig
from pathlib import Path

from importlib.metadata import distribution

import consentgate
from consentgate.pages import resource_dir
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

PAGE = "<!doctype html><html><head><title>t</title></head><body><h1>Hi</h1></body></html>"


async def home(request):
    return HTMLResponse(PAGE)


app = consentgate.ConsentMiddleware(
    Starlette(routes=[Route("/", home)]), secret_key="packaging-test-secret-not-for-production"
)


async def call(method, path, headers=(), body=b""):
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver", 80),
        "headers": [(b"host", b"testserver"), *headers],
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": start["status"], "headers": headers,
            "body": content.decode("utf-8", "replace")}


async def main():
    form = [(b"content-type", b"application/x-www-form-urlencoded"),
            (b"origin", b"http://testserver")]
    return {
        "purelib": str(Path(sysconfig.get_paths()["purelib"]).resolve()),
        "package": str(Path(consentgate.__file__).resolve().parent),
        "static": str(resource_dir("static").resolve()),
        "templates": str(resource_dir("templates").resolve()),
        "sys_path": sys.path,
        "script": await call("GET", "/consentgate/static/consentgate.js"),
        "css": await call("GET", "/consentgate/static/consentgate.css"),
        "page": await call("GET", "/"),
        "preferences": await call("GET", "/consentgate/preferences"),
        "accept": await call("POST", "/consentgate/consent", form, b"action=accept_all"),
        "files": [str(f) for f in distribution("consentgate").files or ()],
        "cookiedb": consentgate.cookiedb.lookup("_gcl_au").platform,
    }


print(json.dumps(asyncio.run(main())))
"""


def _header(response: dict[str, Any], name: str) -> str:
    values = [v for k, v in response["headers"] if k.lower() == name]
    assert values, f"no {name} header in {response['headers']}"
    return str(values[0])


def _install_and_probe(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """A fresh venv with consentgate pip-installed from the checkout, and what PROBE saw when run
    from another folder: (the venv, that folder, the probe's findings)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-input", str(ROOT)],
        check=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = subprocess.run(
        [str(python), "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=work,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    return venv, work, json.loads(probe.stdout)


def test_pip_install_serves_assets_and_templates_from_site_packages(tmp_path: Path) -> None:
    venv, work, found = _install_and_probe(tmp_path)

    purelib = Path(found["purelib"])
    assert Path(found["package"]) == purelib / "consentgate"
    assert Path(found["static"]) == purelib / "consentgate" / "static"
    assert Path(found["templates"]) == purelib / "consentgate" / "templates"
    assert str(ROOT) not in found["sys_path"]

    script = found["script"]
    assert script["status"] == 200
    assert "javascript" in _header(script, "content-type")
    # The installed copy is served, as the checkout's is (without comments and indentation).
    assert (
        script["body"]
        == minified(".js", (ROOT / "static" / "consentgate.js").read_bytes()).decode()
    )
    css = found["css"]
    assert css["status"] == 200
    assert _header(css, "content-type").startswith("text/css")

    page = found["page"]
    assert page["status"] == 200
    assert 'id="consentgate-banner"' in page["body"]
    assert 'value="accept_all"' in page["body"]
    assert "/consentgate/static/consentgate.js?v=" in page["body"]

    preferences = found["preferences"]
    assert preferences["status"] == 200
    assert 'name="category" value="analytical"' in preferences["body"]

    accept = found["accept"]
    assert accept["status"] == 303
    assert _header(accept, "set-cookie").startswith("consentgate=")
    # The default consent log, created in the working directory of the installed app.
    assert (work / "consentgate.sqlite3").is_file()
    assert (venv / "bin" / "consentgate").is_file()
    # The wheel carries consentgate alone, and its licence.
    tops = {f.split("/", 1)[0] for f in found["files"]} - {".."}  # (.. holds bin/consentgate)
    assert tops == {"consentgate", "consentgate-0.1.0.dist-info"}, tops
    assert any(f.endswith(".dist-info/licenses/LICENSE") for f in found["files"])
    # The Open Cookie Database's data travels with its licence and a notice naming the source.
    assert found["cookiedb"] == "Google"
    for name in ("LICENSE", "NOTICE"):
        assert f"consentgate/cookiedb/{name}" in found["files"]
        licences = f".dist-info/licenses/consentgate/cookiedb/{name}"
        assert any(f.endswith(licences) for f in found["files"]), name
    installed = Path(found["package"]) / "cookiedb"
    assert "Apache License" in (installed / "LICENSE").read_text(encoding="utf-8")
    assert "Open Cookie Database" in (installed / "NOTICE").read_text(encoding="utf-8")
