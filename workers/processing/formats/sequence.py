"""Sequences: FASTA and FASTQ (plain or gzip) and VCF (plain or bgzip), read by pysam
(htslib, native code) in the sandbox's child process.

The FASTA/FASTQ profile (one pass, memory bounded by the number of distinct lengths,
`_MAX_POSITIONS`, a batch of `_BATCH_BASES` and the longest record, which htslib holds whole):

    {"kind": "sequences", "format": "fasta" | "fastq", "compression": "gzip" | None,
     "records": int, "total_bases": int,
     "length": {"min", "max", "mean", "n50"} | None,
     "gc_content": fraction of G+C among the A/C/G/T bases | None, "n_bases": int,
     "quality": None (FASTA) | {"encoding": "phred+33" | "phred+64" | "solexa+64",
                  "offset": 33 | 64, "min", "max", "mean" (per base),
                  "per_position": [{"position": 1-based, "mean", "bases"}] (the first
                  `_MAX_POSITIONS` positions; `positions_truncated` says if reads go on)},
     "coverage": {"bbox": None, "time_start": None, "time_end": None}}

The VCF profile (every record is counted; genotypes are never decoded):

    {"kind": "variants", "format": "vcf", "compression": "bgzip" | "gzip" | None,
     "file_format": "VCFv4.2", "samples": [...] (first `_MAX_NAMES`), "sample_count",
     "contigs": [{"name", "length", "records"}] (header and records, first `_MAX_NAMES`),
     "contig_count", "records": int, "alleles": int (ALT alleles),
     "variant_types": {"snv", "indel", "mnp", "other"} (per ALT allele: same length 1 an SNV,
     same length > 1 an MNP, lengths differ an indel, symbolic <DEL>, breakends, * other),
     "filters": {"PASS": n, ...} (first `_MAX_NAMES`), "coverage": {...: None}}

Self-contradicting records are MALFORMED_RECORD (a FASTQ quality line whose length is not
its sequence's, a VCF line htslib refuses), a cut compressed stream TRUNCATED.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from ..model import ErrorCode, ProcessingError
from . import coverage as cov

_MAX_POSITIONS = 1000  # per-position quality summary of the first positions of the reads
_MAX_NAMES = 1000  # samples, contigs and filters listed (all are counted)
_BATCH = 4096  # records counted together, or fewer holding `_BATCH_BASES`
_BATCH_BASES = 8 * 1024 * 1024


def extract(path: str, workdir: str, options: dict[str, Any]) -> dict[str, Any]:
    kind = options["kind"]
    if kind == "vcf":
        profile = _vcf(path, options.get("detail"))
    else:
        profile = _fastx(path, kind, options.get("detail"))
    profile["coverage"] = cov.empty()
    profile["warnings"] = []
    return {"profile": profile, "warnings": []}


def _fastx(path: str, kind: str, compression: str | None) -> dict[str, Any]:
    import pysam

    pysam.set_verbosity(0)  # htslib's own messages: the answer says what went wrong
    stats = _FastxStats(fastq=kind == "fastq")
    try:
        with pysam.FastxFile(path) as reader:
            for record in reader:
                stats.add(record.sequence or "", record.quality)
    except ValueError as error:  # htslib's kseq: "truncated quality string in ..."
        where = f"record {stats.records + 1}"
        if compression and "unknown problem" in str(error):  # kseq's stream error: zlib's
            message = f"the {compression} stream is cut or corrupt ({where})"
            raise ProcessingError(ErrorCode.TRUNCATED, message) from error
        raise ProcessingError(ErrorCode.MALFORMED_RECORD, f"{_plain(error)} ({where})") from error
    except OSError as error:  # zlib: the gzip stream ends early or is corrupt
        raise ProcessingError(
            ErrorCode.TRUNCATED, f"the compressed stream is cut or corrupt: {_plain(error)}"
        ) from error
    if stats.records == 0:
        raise ProcessingError(ErrorCode.UNREADABLE, f"no {kind.upper()} records")
    return {
        "kind": "sequences",
        "format": kind,
        "compression": compression,
        **stats.summary(),
    }


def _plain(error: Exception) -> str:
    """htslib's message without the sandbox's file path."""
    return re.sub(r"\s*(in |parsing )?/\S+", "", str(error))[:300]


class _FastxStats:
    """Counts over records taken in batches of `_BATCH` (joined strings and one numpy pass
    per batch: per-record numpy calls cost ten times the parsing)."""

    def __init__(self, *, fastq: bool) -> None:
        self.fastq = fastq
        self.records = 0
        self.lengths: Counter[int] = Counter()
        self.gc = 0
        self.acgt = 0
        self.n = 0
        self.qual_sum = 0
        self.qual_min = 255
        self.qual_max = 0
        self.pos_sum = np.zeros(_MAX_POSITIONS, dtype="float64")
        self.pos_count = np.zeros(_MAX_POSITIONS, dtype="int64")
        self.longest = 0
        self._sequences: list[str] = []
        self._qualities: list[str] = []
        self._pending = 0  # bases held in the batch

    def add(self, sequence: str, quality: str | None) -> None:
        if self.fastq and (quality is None or len(quality) != len(sequence)):
            raise ValueError(f"{len(sequence)} bases but {len(quality or '')} quality values")
        self.records += 1
        self._sequences.append(sequence)
        self._pending += len(sequence)
        if self.fastq:
            self._qualities.append(quality or "")
        if len(self._sequences) >= _BATCH or self._pending >= _BATCH_BASES:
            self.flush()

    def flush(self) -> None:
        sequences, qualities = self._sequences, self._qualities
        self._sequences, self._qualities, self._pending = [], [], 0
        if not sequences:
            return
        self.lengths.update(map(len, sequences))
        joined = "".join(sequences)
        gc = sum(joined.count(c) for c in "GCgc")
        self.gc += gc
        self.acgt += gc + sum(joined.count(c) for c in "ATat")
        self.n += joined.count("N") + joined.count("n")
        del joined
        if self.fastq:
            self._qualities_of(qualities)

    def _qualities_of(self, qualities: list[str]) -> None:
        scores = np.frombuffer("".join(qualities).encode("ascii", "replace"), dtype="uint8")
        if scores.size == 0:
            return
        self.qual_sum += int(scores.sum(dtype="int64"))
        self.qual_min = min(self.qual_min, int(scores.min()))
        self.qual_max = max(self.qual_max, int(scores.max()))
        sizes = {len(q) for q in qualities}
        self.longest = max(self.longest, max(sizes))
        if len(sizes) == 1:  # reads of one length (the usual run): one 2-D sum
            (size,) = sizes
            head = min(size, _MAX_POSITIONS)
            if size:
                table = scores.reshape(len(qualities), size)[:, :head]
                self.pos_sum[:head] += table.sum(axis=0, dtype="int64")
                self.pos_count[:head] += len(qualities)
            return
        offset = 0
        for quality in qualities:
            head = min(len(quality), _MAX_POSITIONS)
            self.pos_sum[:head] += scores[offset : offset + head]
            self.pos_count[:head] += 1
            offset += len(quality)

    def summary(self) -> dict[str, Any]:
        self.flush()
        total = sum(length * count for length, count in self.lengths.items())
        length = None
        if self.records:
            length = {
                "min": min(self.lengths),
                "max": max(self.lengths),
                "mean": total / self.records,
                "n50": n50(self.lengths),
            }
        return {
            "records": self.records,
            "total_bases": total,
            "length": length,
            "gc_content": self.gc / self.acgt if self.acgt else None,
            "n_bases": self.n,
            "quality": self._quality(total) if self.fastq else None,
        }

    def _quality(self, total: int) -> dict[str, Any] | None:
        if not total:
            return None
        encoding, offset = quality_encoding(self.qual_min, self.qual_max)
        per_position = [
            {
                "position": i + 1,
                "mean": float(self.pos_sum[i] / self.pos_count[i]) - offset,
                "bases": int(self.pos_count[i]),
            }
            for i in range(min(self.longest, _MAX_POSITIONS))
            if self.pos_count[i]
        ]
        return {
            "encoding": encoding,
            "offset": offset,
            "min": self.qual_min - offset,
            "max": self.qual_max - offset,
            "mean": self.qual_sum / total - offset,
            "per_position": per_position,
            "positions_truncated": self.longest > _MAX_POSITIONS,
        }


def n50(lengths: Counter[int]) -> int:
    """The length L such that records of length >= L hold at least half of all bases."""
    total = sum(length * count for length, count in lengths.items())
    running = 0
    for length in sorted(lengths, reverse=True):
        running += length * lengths[length]
        if 2 * running >= total:
            return length
    return 0


def quality_encoding(lowest: int, highest: int) -> tuple[str, int]:
    """The FASTQ quality encoding the characters' range allows (Sanger/Illumina 1.8+ when
    anything below ';' occurs; Solexa's own scores reach down to -5, i.e. ';')."""
    if lowest < 59:
        return "phred+33", 33
    if lowest < 64:
        return "solexa+64", 64
    if highest > 74:  # phred+33 tops out around 'J' (41) or 'K'
        return "phred+64", 64
    return "phred+33", 33


# --- VCF -------------------------------------------------------------------------------


def _vcf(path: str, compression: str | None) -> dict[str, Any]:
    import pysam

    types: Counter[str] = Counter()
    filters: Counter[str] = Counter()
    per_contig: Counter[str] = Counter()
    records = 0
    pysam.set_verbosity(0)
    try:
        with pysam.VariantFile(path) as reader:
            header = reader.header
            declared = {str(name): contig.length for name, contig in header.contigs.items()}
            samples = list(header.samples)
            file_format = header.version
            for record in reader:
                records += 1
                per_contig[record.chrom] += 1
                for alt in record.alts or ():
                    types[variant_type(record.ref or "", alt)] += 1
                for name in record.filter.keys() or ["."]:
                    filters[str(name)] += 1
    except ValueError as error:
        raise ProcessingError(ErrorCode.UNREADABLE, f"not a VCF file: {_plain(error)}") from error
    except OSError as error:
        cut = "truncat" in str(error).lower()
        code = ErrorCode.TRUNCATED if cut else ErrorCode.MALFORMED_RECORD
        message = f"htslib stopped after record {records}: {_plain(error)}"
        raise ProcessingError(code, message) from error
    names = list(dict.fromkeys([*declared, *per_contig]))
    contigs = [
        {"name": n, "length": declared.get(n), "records": per_contig.get(n, 0)}
        for n in names[:_MAX_NAMES]
    ]
    return {
        "kind": "variants",
        "format": "vcf",
        "compression": compression,
        "file_format": file_format,
        "samples": samples[:_MAX_NAMES],
        "sample_count": len(samples),
        "contigs": contigs,
        "contig_count": len(names),
        "records": records,
        "alleles": sum(types.values()),
        "variant_types": {t: types.get(t, 0) for t in ("snv", "indel", "mnp", "other")},
        "filters": dict(filters.most_common(_MAX_NAMES)),
    }


def variant_type(ref: str, alt: str) -> str:
    """'snv', 'mnp', 'indel' or 'other' (symbolic, breakend, missing or spanning alleles)."""
    plain = set("ACGTNacgtn")
    if not alt or not ref or not set(alt) <= plain or not set(ref) <= plain:
        return "other"
    if len(ref) == len(alt):
        if len(ref) == 1:
            return "snv"
        # a padded SNV (ACG>ATG) is still one change: count differing bases
        changed = sum(a != b for a, b in zip(ref.upper(), alt.upper(), strict=True))
        return "snv" if changed == 1 else "mnp"
    return "indel"
