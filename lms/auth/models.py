"""Failed log-ins, counted per e-mail address, for account lockout (see lms/accounts.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from courses.db import Base, UTCDateTime


class LoginThrottle(Base):
    """Failures for one e-mail address, whether or not an account has it.

    Keyed by a keyed hash of the normalised address (never the address itself), so an address
    that has no account is counted, and locked, exactly like one that has: a caller cannot tell
    them apart by the lockout.
    """

    __tablename__ = "login_throttles"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_key: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
