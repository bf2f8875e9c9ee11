"""Results records, the paper's stored numbers and side-by-side tables."""

from .paper import paper_claims, paper_table, side_by_side
from .records import package_versions, read_record, read_records, record_path, write_record

__all__ = [
    "package_versions",
    "paper_claims",
    "paper_table",
    "read_record",
    "read_records",
    "record_path",
    "side_by_side",
    "write_record",
]
