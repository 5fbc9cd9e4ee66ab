"""``make run`` installs only the runtime dependencies (not ``[dev]``): in a fresh virtualenv
with just those, the CLI starts and the async database layer works. (SQLAlchemy 2.1 stopped
pulling in greenlet by itself; the test tools brought it along, so only a runtime-only install
showed that ``make run`` could not start.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).parents[2]

PROBE = """
import asyncio
from sqlalchemy import text
from matinee.db.aio import Database

async def main() -> None:
    db = Database("sqlite+aiosqlite:///" + __import__("sys").argv[1])
    async with db.write() as session:
        await session.execute(text("CREATE TABLE t (x INTEGER)"))
        await session.execute(text("INSERT INTO t VALUES (7)"))
    async with db.read() as session:
        print((await session.execute(text("SELECT x FROM t"))).scalar_one())

asyncio.run(main())
"""


def test_the_runtime_dependencies_alone_start_the_platform(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv is not None, "uv is installed into .venv by the Makefile"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), str(ROOT)],
        check=True,
        timeout=600,
    )
    help_text = subprocess.run(
        [str(env_dir / "bin" / "matinee"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "demo" in help_text
    done = subprocess.run(
        [str(python), "-c", PROBE, str(tmp_path / "probe.db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "7"
