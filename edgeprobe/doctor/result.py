"""What a check reports, and the report that decides whether the device is ready."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OK = "ok"
WARN = "warn"  # works, with a limit worth fixing; does not block readiness
FAIL = "fail"  # the device is not ready until this is fixed
SKIP = "skip"  # does not apply to this machine
STATUSES = (OK, WARN, FAIL, SKIP)


@dataclass
class Check:
    id: str
    title: str
    status: str
    detail: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    machine: dict[str, Any]
    checks: list[Check]

    @property
    def ready(self) -> bool:
        return not any(check.status == FAIL for check in self.checks)

    def by_id(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def as_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "machine": self.machine,
                "checks": [check.as_dict() for check in self.checks]}
