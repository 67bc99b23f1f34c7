"""Sequences (workers/processing/formats/sequence.py, pysam in the sandbox): FASTA and FASTQ
plain or gzip, VCF plain or bgzip. Real files: Biopython's and pysam's own test data
(tests/workers/data/README.md)."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.processing import fails, run
from workers.processing import ErrorCode
from workers.processing.detect import detect_format
from workers.processing.formats.sequence import n50, quality_encoding, variant_type

DATA = Path(__file__).parent / "data"
NONE = {"bbox": None, "time_start": None, "time_end": None}


def bases(path: Path) -> list[str]:
    """The sequences of a FASTA file, read here without pysam."""
    records: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            records.append("")
        elif line.strip():
            records[-1] += line.strip()
    return records


def test_a_plasmid_genome_in_fasta(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "NC_005816.fna").read_bytes(), "pPCP1.fna")
    assert result.format.kind == "fasta"
    profile = result.profile
    assert profile is not None and profile["kind"] == "sequences"
    (sequence,) = bases(DATA / "NC_005816.fna")
    assert (profile["records"], profile["total_bases"]) == (1, 9609) == (1, len(sequence))
    assert profile["length"] == {"min": 9609, "max": 9609, "mean": 9609.0, "n50": 9609}
    gc = sum(sequence.count(c) for c in "GC") / len(sequence)
    assert profile["gc_content"] == pytest.approx(gc)
    assert profile["quality"] is None and profile["coverage"] == NONE


def test_several_fasta_records_lengths_n50_and_unknown_bases(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "f002.fasta").read_bytes(), "sts.fasta")
    profile = result.profile
    assert profile is not None
    records = bases(DATA / "f002.fasta")
    lengths = sorted(len(s) for s in records)
    assert profile["records"] == 3 and profile["total_bases"] == sum(lengths)
    assert profile["length"]["min"] == lengths[0] and profile["length"]["max"] == lengths[-1]
    assert profile["length"]["n50"] == n50(Counter(lengths)) == 471
    assert profile["n_bases"] == sum(s.count("N") for s in records) > 0


def test_n50_is_the_length_holding_half_of_the_bases() -> None:
    # 2, 3, 4, 5, 6, 7, 8, 9, 10 (54 bases): 10 + 9 + 8 = 27 is half
    assert n50(Counter(range(2, 11))) == 8
    assert n50(Counter({100: 1, 1: 1000})) == 1  # 1 000 short reads hold the most bases


def test_fastq_reads_and_their_quality(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "example.fastq").read_bytes(), "reads.fastq")
    assert result.format.kind == "fastq"
    profile = result.profile
    assert profile is not None and (profile["records"], profile["total_bases"]) == (3, 75)
    quality = profile["quality"]
    lines = (DATA / "example.fastq").read_text().splitlines()
    scores = [ord(c) - 33 for line in lines[3::4] for c in line]
    assert (quality["encoding"], quality["offset"]) == ("phred+33", 33)
    assert quality["min"] == min(scores) and quality["max"] == max(scores)
    assert quality["mean"] == pytest.approx(sum(scores) / len(scores))
    first = [ord(line[0]) - 33 for line in lines[3::4]]
    assert quality["per_position"][0] == {"position": 1, "mean": sum(first) / 3, "bases": 3}
    assert len(quality["per_position"]) == 25 and quality["positions_truncated"] is False


def test_gzipped_fastq_reads_the_same(tmp_path: Path) -> None:
    plain = run(tmp_path, (DATA / "example.fastq").read_bytes(), "a.fastq").profile
    result = run(tmp_path, (DATA / "example.fastq.gz").read_bytes(), "a.fastq.gz")
    assert (result.format.kind, result.format.detail) == ("fastq", "gzip")
    assert result.profile is not None and plain is not None
    assert result.profile["compression"] == "gzip"
    assert {**result.profile, "compression": None} == plain


def test_old_illumina_phred64_quality_is_recognised(tmp_path: Path) -> None:
    body = (DATA / "illumina_full_range_as_illumina.fastq").read_bytes()
    quality = run(tmp_path, body, "illumina.fq").profile["quality"]  # type: ignore[index]
    assert (quality["encoding"], quality["min"], quality["max"]) == ("phred+64", 0, 62)


def test_quality_encodings_from_the_range_of_characters() -> None:
    assert quality_encoding(ord("#"), ord("J")) == ("phred+33", 33)
    assert quality_encoding(ord(";"), ord("h")) == ("solexa+64", 64)
    assert quality_encoding(ord("@"), ord("h")) == ("phred+64", 64)


def test_a_fastq_quality_line_of_the_wrong_length_is_a_malformed_record(tmp_path: Path) -> None:
    error = fails(
        ErrorCode.MALFORMED_RECORD, tmp_path, (DATA / "error_short_qual.fastq").read_bytes(), "x.fq"
    )
    assert "quality" in error.message and "record 3" in error.message
    assert "/tmp" not in error.message
    ok = run(tmp_path, (DATA / "example.fastq").read_bytes(), "next.fq")  # the next one
    assert ok.profile is not None and ok.profile["records"] == 3


def test_a_truncated_gzip_is_truncated(tmp_path: Path) -> None:
    body = gzip.compress((DATA / "NC_005816.fna").read_bytes())
    error = fails(ErrorCode.TRUNCATED, tmp_path, body[: len(body) // 2], "cut.fa.gz")
    assert "gzip" in error.message


def test_a_vcf_samples_contigs_and_variant_types(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "example_vcf42.vcf").read_bytes(), "calls.vcf")
    assert result.format.kind == "vcf"
    profile = result.profile
    assert profile is not None and profile["kind"] == "variants"
    assert profile["samples"] == ["NA00001", "NA00002", "NA00003"]
    assert [c["name"] for c in profile["contigs"]] == ["M", "17", "20"]
    assert [c["records"] for c in profile["contigs"]] == [1, 1, 3]
    # G>A, T>A, A>G,T (two SNVs) and GTCT>G,GTACT (a deletion and an insertion); M has no ALT
    assert profile["variant_types"] == {"snv": 4, "indel": 2, "mnp": 0, "other": 0}
    assert (profile["records"], profile["alleles"]) == (5, 6)
    assert profile["filters"] == {"PASS": 4, "q10": 1}
    assert profile["coverage"] == NONE


def test_a_bgzipped_vcf_counts_every_record(tmp_path: Path) -> None:
    body = (DATA / "ex1.vcf.gz").read_bytes()
    result = run(tmp_path, body, "ex1.vcf.gz")
    assert (result.format.kind, result.format.detail) == ("vcf", "bgzip")
    profile = result.profile
    assert profile is not None and profile["samples"] == ["A", "B"]
    lines = [ln for ln in gzip.decompress(body).decode().splitlines() if ln[:1] != "#"]
    assert profile["records"] == len(lines)
    per_contig = Counter(ln.split("\t")[0] for ln in lines)
    counted = {c["name"]: c["records"] for c in profile["contigs"] if c["records"]}
    assert counted == dict(per_contig)
    assert profile["contigs"][0] == {"name": "chr1", "length": 249250621, "records": 29}
    assert sum(profile["variant_types"].values()) == profile["alleles"]


def test_a_truncated_bgzip_vcf_is_truncated(tmp_path: Path) -> None:
    body = (DATA / "ex1.vcf.gz").read_bytes()
    error = fails(ErrorCode.TRUNCATED, tmp_path, body[: len(body) // 2], "cut.vcf.gz")
    assert "truncated" in error.message


@pytest.mark.parametrize(
    ("ref", "alt", "kind"),
    [
        ("A", "G", "snv"),
        ("AC", "GT", "mnp"),
        ("ACG", "ATG", "snv"),
        ("GTCT", "G", "indel"),
        ("G", "GTACT", "indel"),
        ("A", "<DEL>", "other"),
        ("A", "A[chr2:321[", "other"),
        ("A", "*", "other"),
    ],
)
def test_variant_types(ref: str, alt: str, kind: str) -> None:
    assert variant_type(ref, alt) == kind


def test_detection_of_sequence_formats() -> None:
    fasta = (DATA / "NC_005816.fna").read_bytes()
    assert detect_format(fasta[:4096], "x.txt").kind == "fasta"
    gz = detect_format(gzip.compress(fasta)[:4096], "x.gz")
    assert (gz.kind, gz.detail) == ("fasta", "gzip")
    assert detect_format(b"@not a read\nhello world\n", "x.txt").kind == "text"
    vcf = detect_format((DATA / "example_vcf42.vcf").read_bytes(), "x.tsv")
    assert vcf.kind == "vcf"  # tab-separated, but a VCF first


def test_reads_of_different_lengths_per_position(tmp_path: Path) -> None:
    """example.fastq's reads trimmed to 25, 20 and 10 bases (as a trimmer would leave them)."""
    lines = (DATA / "example.fastq").read_text().splitlines()
    trimmed = []
    for i, keep in enumerate((25, 20, 10)):
        name, seq, plus, qual = lines[4 * i : 4 * i + 4]
        trimmed += [name, seq[:keep], plus, qual[:keep]]
    profile = run(tmp_path, ("\n".join(trimmed) + "\n").encode(), "trimmed.fq").profile
    assert profile is not None and profile["length"]["min"] == 10
    per_position = profile["quality"]["per_position"]
    assert [p["bases"] for p in per_position[9:11] + per_position[19:21]] == [3, 2, 2, 1]
    tenth = [ord(q[9]) - 33 for q in trimmed[3::4]]
    assert per_position[9]["mean"] == pytest.approx(sum(tenth) / 3)
    assert profile["n_bases"] == 0 and profile["total_bases"] == 55
