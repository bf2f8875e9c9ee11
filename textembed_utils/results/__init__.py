"""Results records, the paper's stored numbers, tables people read, findings and verdicts."""

from .paper import paper_claims, paper_table
from .records import package_versions, read_record, read_records, record_path, record_written, write_record

__all__ = [
    "package_versions",
    "paper_claims",
    "paper_table",
    "read_record",
    "read_records",
    "record_path",
    "record_written",
    "write_record",
]
