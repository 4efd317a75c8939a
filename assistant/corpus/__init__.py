"""Corpus / Document / QAPair: load a corpus (a folder, or files), import other Q&A formats,
validate it, split it, fingerprint it, and sum it up (`check_corpus`).

Format: docs/corpus-format.md. A user's mistake is a UserError naming the file, the line and the
field, raised before anything is built. What is legal but suspicious (train/test leakage,
answers the documents do not support) goes to `Corpus.warnings`.

One module per idea: model (the dataclasses and the format's vocabularies), rows (reading a
file's rows and checking fields), readers (documents), qa_formats (Q&A records), probes (BBQ),
quality (warnings), load (load_corpus, resolve_corpus, the seeded split), check (the summary).
"""
from .check import check_corpus, format_check
from .load import MIN_PAIRS, QA_FILES, SPLIT_SHARES, load_corpus, resolve_corpus, seeded_split
from .model import (ANSWER_TYPES, CORPORA_DIR, DOMAINS, KINDS, SPLITS, UNANSWERABLE, Corpus, CorpusMeta, Document,
                    QAPair)
from .probes import group_matches, read_probes, stereotyped_groups
from .qa_formats import CONVERSATION_ROLES
from .quality import KEY_TERMS_MISSING, LEAKAGE_JACCARD, WARNINGS_PER_KIND, near_duplicates, unsupported_terms
from .readers import DOC_READERS, DOC_TYPES, docs_from_folder, docs_from_jsonl
from .rows import read_jsonl

__all__ = [
    "ANSWER_TYPES", "CONVERSATION_ROLES", "CORPORA_DIR", "DOC_READERS", "DOC_TYPES", "DOMAINS", "KEY_TERMS_MISSING",
    "KINDS", "LEAKAGE_JACCARD", "MIN_PAIRS", "QA_FILES", "SPLIT_SHARES", "SPLITS", "UNANSWERABLE", "WARNINGS_PER_KIND",
    "Corpus", "CorpusMeta", "Document", "QAPair", "check_corpus", "docs_from_folder", "docs_from_jsonl", "format_check",
    "group_matches", "load_corpus", "near_duplicates", "read_jsonl", "read_probes", "resolve_corpus", "seeded_split",
    "stereotyped_groups", "unsupported_terms",
]
