"""The ``*.epb`` bundle: a msgpack stream of records (header, points, events, ..., footer).

Never imports torch: bundles are read on machines without it.
"""

from edgeprobe.bundle.reader import Bundle, BundleError, read_bundle
from edgeprobe.bundle.schema import SCHEMA_VERSION
from edgeprobe.bundle.writer import BundleWriter

__all__ = ["SCHEMA_VERSION", "Bundle", "BundleError", "BundleWriter", "read_bundle"]
