"""A bundle as pandas DataFrames: points, models, max context, kernels, category shares and
the telemetry timeline. pandas is imported only here, and only when a frame is asked for."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from edgeprobe.analysis import tables
from edgeprobe.analysis.timeline import telemetry_columns
from edgeprobe.bundle import read_bundle, schema
from edgeprobe.bundle.reader import Bundle
from edgeprobe.errors import EdgeprobeError

if TYPE_CHECKING:
    import pandas

INSTALL_HINT = "pip install 'edgeprobe[analysis]'"


def require(module: str, purpose: str) -> Any:
    """Import an optional dependency, or say in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise EdgeprobeError(f"{module} is not installed; it is needed for {purpose}: "
                             f"{INSTALL_HINT}") from None


@dataclass
class BundleFrames:
    """One bundle read for analysis; every frame is built on first use."""

    bundle: Bundle
    label: str = field(default="")

    def __post_init__(self) -> None:
        self.label = self.label or self.bundle.path.stem

    @property
    def header(self) -> dict[str, Any]:
        return self.bundle.header

    @property
    def complete(self) -> bool:
        return self.bundle.complete

    @property
    def truncated(self) -> bool:
        return self.bundle.truncated

    @property
    def damage(self) -> str | None:
        return self.bundle.damage

    def _frame(self, rows: list[dict[str, Any]],
               columns: list[str] | None = None) -> pandas.DataFrame:
        return require("pandas", "data frames").DataFrame(rows, columns=columns)

    @cached_property
    def points(self) -> pandas.DataFrame:
        """Every point, one row each (search trials of the max-context search included,
        ``search`` True); figures in the units their names carry."""
        return self._frame(tables.point_rows(self.label, self.bundle), tables.point_columns())

    @cached_property
    def models(self) -> pandas.DataFrame:
        return self._frame(tables.model_rows(self.label, self.bundle))

    @cached_property
    def max_context(self) -> pandas.DataFrame:
        return self._frame(tables.max_context_rows(self.label, self.bundle))

    @cached_property
    def kernels(self) -> pandas.DataFrame:
        return self._frame(tables.kernel_rows(self.label, self.bundle))

    @cached_property
    def categories(self) -> pandas.DataFrame:
        return self._frame(tables.category_rows(self.label, self.bundle))

    @cached_property
    def telemetry(self) -> pandas.DataFrame:
        """The telemetry timeline, one row per sample; empty when none was recorded."""
        columns = telemetry_columns(self.bundle.of_type(schema.TELEMETRY))
        return require("pandas", "data frames").DataFrame(columns)


def load_bundle(path: str | os.PathLike[str]) -> BundleFrames:
    """Read a bundle for analysis (frames built on first use; no torch, no GPU needed)."""
    return BundleFrames(read_bundle(path))
