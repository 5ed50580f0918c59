"""sockcheck-enter (enter.c beside this file), the program every sandboxed launch execs through as root.

It is compiled on first use, with the C compiler the bundled targets need,
into the per-version cache folder (/var/cache/sockcheck/VERSION for root),
named by a digest of its source, so an edited source is rebuilt and two
runs never race on one half-written file (the build goes to a temporary
name and is renamed into place).  Without a compiler the sandbox keeps to
prlimit(1) and setpriv(1), without cgroups or private mounts, and the run's
header says so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sockcheck import __version__, layout

SOURCE = Path(__file__).resolve().with_name("enter.c")
COMPILE_TIMEOUT = 60.0


def helper() -> tuple[str | None, str]:
    """(path of the built sockcheck-enter, "") or (None, why it cannot be had)."""
    try:
        source = SOURCE.read_bytes()
    except OSError as exc:
        return None, f"{SOURCE}: {exc.strerror}"
    folder = layout.cache_folder(__version__).parent
    path = folder / f"sockcheck-enter-{hashlib.sha256(source).hexdigest()[:12]}"
    if os.access(path, os.X_OK):
        return str(path), ""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, "no C compiler to build sockcheck-enter (apt-get install gcc libc6-dev)"
    folder.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=".sockcheck-enter-", dir=folder)
    os.close(fd)
    try:
        result = subprocess.run([compiler, "-O2", "-o", partial, str(SOURCE)], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=COMPILE_TIMEOUT)
        if result.returncode != 0:
            return None, f"cannot build sockcheck-enter: {' | '.join(result.stderr.strip().splitlines()[-2:])}"
        os.chmod(partial, 0o755)
        os.replace(partial, path)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"cannot build sockcheck-enter: {exc}"
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return str(path), ""
