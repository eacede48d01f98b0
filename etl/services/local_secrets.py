"""Passwords of the embedded servers' logins: generated once, kept where only this user reads.

The embedded PostgreSQL and MongoDB run with authentication on, one login per component as in
the compose stack. Their passwords are files under LOCAL_DIR/secrets (the folder 0700, each
file 0600), never in the repository or a setting. Each server's own start-up sets the passwords
it finds there, so rotating one is: delete its file, `python -m etl down`, run any command.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def local_password(folder: Path, name: str) -> str:
    """The password kept in `folder/<name>.password`, generated when the file is missing."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{name}.password"
    if not path.exists():
        # written whole to a private file, then linked into place: two processes starting at
        # once agree on one password, and nobody reads a half-written file
        draft = folder / f".{name}.{os.getpid()}.draft"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(24))  # URL-safe: it travels inside URLs
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
