"""The container files: Dockerfile, .dockerignore and compose.yaml, read as data and held to what
matters without a container engine — a slim multi-stage build from the source tree, a non-root
user, a command line the real `banscan` command accepts (parsed by its own Click command),
ports and health check that agree, PostgreSQL through the project's driver with the password
from the environment only, the server waiting for a healthy database. With a running Docker
engine the image is also built and run; `docker compose config` checks compose.yaml where the
plugin is installed. And `python -m banscan` works."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from banscan import __version__

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "compose.yaml"
README = REPO / "README.md"
SLIM_BASES = ("python:3.11-slim", "python:3.12-slim")
SERVER = "banscan"  # compose.yaml's service names
DATABASE = "postgres"
SECRET_WORDS = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY", re.IGNORECASE)


# ---------------------------------------------------------------- a small Dockerfile reader


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    value: str  # the rest of the instruction, continuation lines joined
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form's list of strings, or None for the shell form."""
        text = self.value.strip()
        if not text.startswith("["):
            return None
        parsed = json.loads(text)
        assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed), self
        return parsed

    def flags(self) -> tuple[dict[str, str], str]:
        """Leading `--name=value` / `--name` flags (COPY --from, HEALTHCHECK --interval) and the rest."""
        rest = self.value.strip()
        found: dict[str, str] = {}
        while m := re.match(r"--([a-z-]+)(?:=(\S+))?\s*", rest):
            found[m.group(1)] = m.group(2) or ""
            rest = rest[m.end() :]
        return found, rest


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions as Docker reads them: comments and blank lines dropped (also inside a
    continuation), lines ending in a backslash joined to the next."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(p for p in pending if p)
        keyword, _, value = joined.partition(" ")
        out.append(Instruction(keyword.upper(), value.strip(), start))
        pending = []
    assert not pending, "the Dockerfile ends inside a continuation"
    return out


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """The build stages, each starting with its FROM (ARGs before the first FROM are left out)."""
    found: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            found.append([ins])
        elif found:
            found[-1].append(ins)
    return found


def global_args(instructions: list[Instruction]) -> dict[str, str]:
    args: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG":
            name, _, default = ins.value.partition("=")
            args[name.strip()] = default.strip().strip('"')
    return args


def base_image(from_ins: Instruction, args: dict[str, str]) -> str:
    image = from_ins.value.split()[0]
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    return stages(instructions)[-1]


def last(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert found, f"no {keyword} in the final stage"
    return found[-1]


def container_argv(instructions: list[Instruction], command: list[str] | None = None) -> list[str]:
    """What the container runs: ENTRYPOINT followed by CMD (or compose's `command`)."""
    stage = final_stage(instructions)
    entry = last(stage, "ENTRYPOINT").exec_form()
    cmd = command if command is not None else last(stage, "CMD").exec_form()
    assert entry is not None and cmd is not None, "ENTRYPOINT and CMD must use the exec (JSON) form"
    return [*entry, *cmd]


# ---------------------------------------------------------------- the real command line


def parse_banscan(argv: list[str], env: dict[str, str] | None = None) -> tuple[list[str], dict[str, Any]]:
    """Parse `argv` (after `banscan`) with the real Click command behind `banscan`, in a process
    environment of exactly `env` for banscan's own variables (as a container sets them): the
    names of the (sub)commands it reaches and the parameters of the last one. Unknown options,
    missing arguments and bad values raise Click's usage errors, as on the command line."""
    import typer.main

    from banscan.cli import app

    ours = {k: v for k, v in os.environ.items() if not k.startswith("BANSCAN_")}
    with mock.patch.dict(os.environ, {**ours, **(env or {})}, clear=True):
        command: Any = typer.main.get_command(app)
        ctx = command.make_context("banscan", list(argv))
        names: list[str] = []
        rest = list(argv)
        while hasattr(command, "resolve_command"):
            name, command, rest = command.resolve_command(ctx, rest)
            names.append(name)
            ctx = command.make_context(name, list(rest), parent=ctx)
        return names, dict(ctx.params)


def server_env(service: dict[str, Any]) -> dict[str, str]:
    """The literal `BANSCAN_*` variables a compose service sets (interpolated ones are left out)."""
    env = service.get("environment") or {}
    return {k: str(v) for k, v in env.items() if k.startswith("BANSCAN_") and "${" not in str(v)}


def test_the_parser_refuses_what_banscan_refuses() -> None:
    with pytest.raises(Exception, match="--no-such-option"):
        parse_banscan(["serve", "--no-such-option"])
    with pytest.raises(Exception, match="integer"):
        parse_banscan(["serve", "--port", "http"])
    assert parse_banscan(["serve"])[1]["host"] == "127.0.0.1"


# ---------------------------------------------------------------- Dockerfile


def test_multi_stage_build_on_slim_python(dockerfile: list[Instruction]) -> None:
    args = global_args(dockerfile)
    found = stages(dockerfile)
    assert len(found) >= 2, "a build stage and a runtime stage"
    for stage in found:
        assert base_image(stage[0], args) in SLIM_BASES, stage[0]
    build_name = found[0][0].value.split()[-1]
    copied_from = [i.flags()[0].get("from") for i in final_stage(dockerfile) if i.keyword == "COPY"]
    assert build_name in copied_from, "the runtime stage copies the built environment"
    runtime = final_stage(dockerfile)
    assert not any("build-essential" in i.value for i in runtime), "no compiler in the runtime image"


def test_installs_banscan_from_the_source_tree_without_extras(dockerfile: list[Instruction]) -> None:
    build = stages(dockerfile)[0]
    copied = " ".join(i.flags()[1] for i in build if i.keyword == "COPY")
    for needed in ("pyproject.toml", "README.md", "src"):
        assert needed in copied.split(), f"{needed} is not copied into the build"
    installs = [i.value for i in build if i.keyword == "RUN" and "pip install" in i.value]
    assert any(re.search(r"pip install (\S+ )*\.(\s|$)", v) for v in installs), installs
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert not re.search(r"\.\[[\w,-]+\]", text), "no extras (test, dev) in the image"
    assert "pip install -e" not in text and "--editable" not in text


def test_runs_as_a_user_that_is_not_root(dockerfile: list[Instruction]) -> None:
    runtime = final_stage(dockerfile)
    user = last(runtime, "USER").value.split(":")[0]
    assert user not in ("root", "0"), user
    created = [i.value for i in runtime if i.keyword == "RUN" and "useradd" in i.value]
    assert created and re.search(rf"\b{re.escape(user)}\b", created[-1]), "the USER is created in the image"
    after_user = runtime[runtime.index(last(runtime, "USER")) :]
    assert not any(i.keyword == "USER" and i.value in ("root", "0") for i in after_user)


def test_the_default_command_is_banscan_serve_on_the_exposed_port(dockerfile: list[Instruction]) -> None:
    argv = container_argv(dockerfile)
    assert argv[0] == "banscan"
    names, params = parse_banscan(argv[1:])
    assert names == ["serve"]
    assert params["host"] == "0.0.0.0"
    exposed = [int(p.split("/")[0]) for p in last(final_stage(dockerfile), "EXPOSE").value.split()]
    assert exposed == [params["port"]] == [8080]
    assert params["create_admin"] is None and not params["insecure_cookies"]
    volume = last(final_stage(dockerfile), "VOLUME").exec_form() or []
    assert params["db"].startswith("sqlite:////"), "an absolute path for the SQLite default"
    assert any(params["db"].removeprefix("sqlite:///").startswith(v + "/") for v in volume), (
        "the SQLite database lives on the volume"
    )


def test_health_check_asks_the_servers_health_endpoint(dockerfile: list[Instruction], tmp_path: Path) -> None:
    check = last(final_stage(dockerfile), "HEALTHCHECK")
    options, rest = check.flags()
    assert {"interval", "timeout", "start-period", "retries"} <= options.keys()
    keyword, _, command = rest.partition(" ")
    assert keyword == "CMD"
    argv = json.loads(command)
    script = argv[-1]
    port = int(container_argv(dockerfile)[container_argv(dockerfile).index("--port") + 1])
    path = re.search(r"127\.0\.0\.1:(\d+)(/\w+)", script)
    assert path is not None and int(path.group(1)) == port
    compile(script, "HEALTHCHECK", "exec")  # the check is valid Python

    from banscan.server.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        assert path.group(2) in {getattr(r, "path", None) for r in app.routes}
    finally:
        app.state.banscan.db.dispose()


def test_no_secrets_or_default_passwords_in_the_dockerfile(dockerfile: list[Instruction]) -> None:
    for ins in dockerfile:
        if ins.keyword in ("ENV", "ARG", "LABEL"):
            assert not SECRET_WORDS.search(ins.value), f"line {ins.line}: {ins.keyword} {ins.value}"
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "BANSCAN_PASSWORD" not in text and "--create-admin" not in text
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "no credentials in a URL"


# ---------------------------------------------------------------- .dockerignore


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def ignored(path: str, rules: list[str]) -> bool:
    """Docker's reading of .dockerignore: the last pattern matching the path or one of its
    parent folders decides; `!` lets back in."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").strip().strip("/")
        rx = _ignore_regex(pattern)
        if any(rx.match(p) for p in prefixes):
            verdict = not negate
    return verdict


def test_the_build_context_holds_the_source_and_no_secrets(dockerfile: list[Instruction]) -> None:
    rules = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources: list[str] = []
    for ins in dockerfile:
        if ins.keyword in ("COPY", "ADD"):
            options, rest = ins.flags()
            if "from" not in options:
                sources += rest.split()[:-1]
    assert sources
    for src in sources:
        assert (REPO / src).exists(), src
        assert not ignored(src.strip("./") or ".", rules), f"{src} is copied but .dockerignore leaves it out"
    assert not ignored("src/banscan/server/static/dashboard.css", rules)
    assert not ignored("src/banscan/catalog/data/products/kes.yaml", rules)
    for secret in (".env", ".git/config", ".venv/bin/python", "banscan.db", "tests/server/conftest.py"):
        assert ignored(secret, rules), f"{secret} would be sent to the build"
    for junk in ("src/banscan/__pycache__/x.pyc", "src/banscan.egg-info/PKG-INFO", "test-artifacts/a.png"):
        assert ignored(junk, rules), junk


# ---------------------------------------------------------------- compose.yaml

INTERPOLATION = re.compile(r"\$\{(\w+)(:?[?-])([^}]*)\}")


def test_compose_server_waits_for_a_healthy_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    db = services[DATABASE]
    assert str(db["image"]).split(":")[0] in ("postgres", "docker.io/library/postgres")
    assert ":" in str(db["image"]), "a pinned major version"
    assert db["healthcheck"]["test"] and "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert services[SERVER]["depends_on"][DATABASE]["condition"] == "service_healthy"
    mounts = [str(v).split(":") for v in db["volumes"]]
    named = [m[0] for m in mounts if len(m) >= 2 and m[1] == "/var/lib/postgresql/data"]
    assert named and named[0] in (compose.get("volumes") or {}), "the data sits on a named volume"
    assert services[SERVER].get("build") in (".", {"context": "."})


def test_compose_runs_banscan_serve_on_postgres_with_psycopg(
    dockerfile: list[Instruction], compose: dict[str, Any]
) -> None:
    from sqlalchemy.engine import make_url

    from banscan.store.db import normalize_url

    server = compose["services"][SERVER]
    command = server["command"]
    assert isinstance(command, list) and all(isinstance(c, str) for c in command), "a list of strings"
    argv = container_argv(dockerfile, command)
    names, params = parse_banscan(argv[1:], env=server_env(server))
    assert names == ["serve"] and params["host"] == "0.0.0.0"
    published = [str(p).rsplit(":", 1)[-1] for p in server["ports"]]
    assert published == [str(params["port"])]
    assert all(str(p).startswith("127.0.0.1:") for p in server["ports"]), "published on loopback only"

    url = make_url(params["db"])
    assert url.host == DATABASE, "the database is reached by its service name"
    assert normalize_url(url).drivername == "postgresql+psycopg"
    assert url.password is None, "no password in the URL: libpq takes it from PGPASSWORD"
    env = compose["services"][DATABASE]["environment"]
    assert url.username == env["POSTGRES_USER"] and url.database == env["POSTGRES_DB"]
    assert "PGPASSWORD" in server["environment"]


def test_compose_takes_every_secret_from_the_environment(compose: dict[str, Any]) -> None:
    password = {}
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment as a mapping"
        for key, value in env.items():
            if not SECRET_WORDS.search(key):
                continue
            m = INTERPOLATION.fullmatch(str(value))
            assert m is not None, f"{name}.{key} must come from the environment, not {value!r}"
            if m.group(2) == ":-":
                assert m.group(3) == "", f"{name}.{key} has a default value"
            password[f"{name}.{key}"] = m
    db_password = password[f"{DATABASE}.POSTGRES_PASSWORD"]
    assert db_password.group(2) == ":?", "compose refuses to start without the database password"
    assert password[f"{SERVER}.PGPASSWORD"].group(1) == db_password.group(1)
    text = COMPOSE.read_text(encoding="utf-8")
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "no credentials in a URL"
    assert "BANSCAN_PASSWORD" not in text and "--insecure-cookies" not in text


def _plain_env() -> dict[str, str]:
    """The environment for `docker compose` without any of this machine's compose variables."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOCKER_CONFIG", "DOCKER_HOST")}


def test_compose_config_validates() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        pytest.skip("the docker compose plugin is not installed")
    base = [
        docker,
        "compose",
        "--project-directory",
        str(REPO),
        "-f",
        str(COMPOSE),
        "--env-file",
        "/dev/null",
    ]
    ok = subprocess.run(
        [*base, "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**_plain_env(), "POSTGRES_PASSWORD": "only-for-this-check"},
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        [*base, "config", "--quiet"], capture_output=True, text=True, env=_plain_env(), timeout=60
    )
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr


# ---------------------------------------------------------------- README


def test_readme_container_commands_are_real_banscan_commands(compose: dict[str, Any]) -> None:
    """Each `docker compose run --rm banscan …` line in the README parses as a banscan command."""
    lines = [
        line.strip()
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith(f"docker compose run --rm {SERVER} ")
    ]
    assert any(" user add " in line for line in lines), "the README shows how to make the first admin"
    env = server_env(compose["services"][SERVER])
    server_db = parse_banscan(compose["services"][SERVER]["command"], env=env)[1]["db"]
    assert server_db.startswith("postgresql://"), "the server's commands use PostgreSQL"
    for line in lines:
        argv = shlex.split(line.split(" #")[0])[5:]
        names, params = parse_banscan(argv, env=env)
        assert names, line
        if "db" in params:
            assert params["db"] == server_db, f"{line}: not the server's database"


# ---------------------------------------------------------------- building and running


def test_python_m_banscan_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "banscan", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"banscan {__version__} ")


def _docker_engine() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        ok = subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return docker if ok else None


def test_the_image_builds_and_runs() -> None:
    docker = _docker_engine()
    if docker is None:
        pytest.skip("no running Docker engine (`docker info` failed): the image is not built here")
    tag = "banscan-test:container-files"
    build = subprocess.run(
        [docker, "build", "-t", tag, str(REPO)], capture_output=True, text=True, timeout=1800, check=False
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    try:
        version = subprocess.run(
            [docker, "run", "--rm", tag, "--version"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert version.returncode == 0 and version.stdout.startswith(f"banscan {__version__} "), version
        user = subprocess.run(
            [docker, "run", "--rm", "--entrypoint", "id", tag, "-u"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert user.stdout.strip() not in ("", "0"), user
    finally:
        subprocess.run([docker, "image", "rm", "-f", tag], capture_output=True, timeout=120, check=False)
