"""Corpus / Document / QAPair: load a corpus (a folder, or files), import other Q&A formats,
validate it, split it, fingerprint it, and sum it up (`check_corpus`).

Format: docs/corpus-format.md. A user's mistake is a UserError naming the file, the line and the
field, raised before anything is built. What is legal but suspicious (train/test leakage,
answers the documents do not support) goes to `Corpus.warnings`.
"""
from .load import (ANSWER_TYPES, CONVERSATION_ROLES, CORPORA_DIR, DOC_READERS, DOC_TYPES, DOMAINS, KEY_TERMS_MISSING,
                   KINDS, LEAKAGE_JACCARD, MIN_PAIRS, QA_FILES, SPLIT_SHARES, SPLITS, UNANSWERABLE, WARNINGS_PER_KIND,
                   Corpus, CorpusMeta, Document, QAPair, check_corpus, docs_from_folder, docs_from_jsonl, format_check,
                   group_matches, load_corpus, near_duplicates, read_jsonl, read_probes, resolve_corpus, seeded_split,
                   unsupported_terms)

__all__ = [
    "ANSWER_TYPES", "CONVERSATION_ROLES", "CORPORA_DIR", "DOC_READERS", "DOC_TYPES", "DOMAINS", "KEY_TERMS_MISSING",
    "KINDS", "LEAKAGE_JACCARD", "MIN_PAIRS", "QA_FILES", "SPLIT_SHARES", "SPLITS", "UNANSWERABLE", "WARNINGS_PER_KIND",
    "Corpus", "CorpusMeta", "Document", "QAPair", "check_corpus", "docs_from_folder", "docs_from_jsonl", "format_check",
    "group_matches", "load_corpus", "near_duplicates", "read_jsonl", "read_probes", "resolve_corpus", "seeded_split",
    "unsupported_terms",
]
