"""Versioned binary proof format: a container of tagged sections and validating typed readers/writers.

See ``docs/proof-format.md`` for the byte layout and the validation rules.
"""

from zkdl.serialize.container import (
    FLAG_TRANSPARENT,
    FORMAT_VERSION,
    KNOWN_FLAGS,
    MAGIC,
    MAX_SECTIONS,
    ContainerReader,
    ContainerWriter,
    Header,
    Reader,
    SectionInfo,
    Writer,
    describe,
    parse_header,
    section_sizes,
)
from zkdl.serialize.encoding import (
    FP_MODULUS,
    FR_BYTES,
    FR_MODULUS,
    G1_BYTES,
    G1_IDENTITY_BYTES,
)
from zkdl.serialize.subgroup import SubgroupChecks

__all__ = [
    "FLAG_TRANSPARENT",
    "FORMAT_VERSION",
    "KNOWN_FLAGS",
    "MAGIC",
    "MAX_SECTIONS",
    "ContainerReader",
    "ContainerWriter",
    "Header",
    "Reader",
    "SectionInfo",
    "SubgroupChecks",
    "Writer",
    "describe",
    "parse_header",
    "section_sizes",
    "FP_MODULUS",
    "FR_BYTES",
    "FR_MODULUS",
    "G1_BYTES",
    "G1_IDENTITY_BYTES",
]
