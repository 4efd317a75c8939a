"""The RAG builder: chunking, a FAISS index (plus BM25) over the chunks, retrieval, and the
prompt with numbered sources.

  chunk_document()   heading-aware chunks sized by the embedding model's own tokenizer
  RagIndex           dense (FAISS) + sparse (bm25s) retrieval, fused by reciprocal rank fusion;
                     documents can be added and removed without a rebuild; saved as
                     index.faiss + chunks.jsonl + manifest.json (checksums, embedding model)
  rag_prompt()       numbered sources within the model's context budget, answer-with-citations
  build_index()      what `assistant build rag`, `compare` and the app call: build, save, record
  retrieval_metrics() hit@k, MRR, nDCG@k on Q&A pairs that name their documents
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Literal

import numpy as np
from pydantic import AliasChoices, Field, model_validator

from .config import FORM, ApproachConfig
from .corpus import UNANSWERABLE
from .errors import UserError
from .events import Event, Events, check, no_events
from .files import read_json, sha256_file, write_bytes, write_json, write_jsonl

FORMAT_VERSION = 1
INDEX_FILE, CHUNKS_FILE, MANIFEST_FILE = "index.faiss", "chunks.jsonl", "manifest.json"
Progress = Callable[[int, int, str], None]


class RagConfig(ApproachConfig):
    """How the index is built and searched. The CLI flags have the same names (--chunk-tokens ...).
    The quick profile is the full one: the index builds in seconds."""

    chunk_tokens: int = Field(200, ge=16, description="chunk size in the embedding model's tokens, heading included",
                              json_schema_extra=FORM)
    chunk_overlap: int = Field(40, ge=0, description="tokens shared by neighbouring chunks of one section")
    retrieval: Literal["dense", "bm25", "hybrid"] = Field(
        "hybrid", description="dense (FAISS), bm25, or hybrid: both fused by reciprocal rank", json_schema_extra=FORM)
    top_k: int = Field(3, ge=1, description="sources per question (Soudani et al.: top-3 works best)",
                       json_schema_extra=FORM)
    index: Literal["auto", "flat", "hnsw", "ivf"] = Field(
        "auto", description="FAISS index; auto: exact search below flat_below chunks, IVF above")
    context_tokens: int = Field(1024, ge=32, description="token budget of the sources in the prompt (LLM tokens)")
    # context and prompt_format: chosen on the val split of the three shipped corpora with the embedded
    # model (benchmarks/reader_context.py; README "What the RAG model reads")
    context: Literal["chunks", "focused"] = Field(
        "focused", description="what the model reads: whole chunks, or the sentences and table rows of them that "
                               "bear on the question", json_schema_extra=FORM)
    focus_tokens: int = Field(192, ge=16, description="token budget of the focused context (LLM tokens)")
    prompt_format: Literal["chat", "completion"] = Field(
        "completion", description="chat: the model's chat template; completion: plain text ending in 'Answer:', the "
                            "answer cut at its first line (what some small models read best)")
    rrf_k: int = Field(60, ge=1, description="reciprocal rank fusion constant (Cormack et al. 2009)")
    fusion_depth: int = Field(20, ge=1, description="candidates each retriever hands to the fusion")
    flat_below: int = Field(20_000, ge=1, description="index=auto: exact search below this many chunks, IVF above")
    hnsw_m: int = Field(32, ge=4, description="HNSW: links per vector")
    hnsw_ef_search: int = Field(64, ge=1, description="HNSW: candidates kept while searching")
    ivf_nprobe: int = Field(16, ge=1, description="IVF: clusters searched per query")
    # its own name: the fine-tuning batch size is another thing ("batch_size" in indexes built before)
    embed_batch_size: int = Field(64, ge=1, description="texts per embedding batch",
                                  validation_alias=AliasChoices("embed_batch_size", "batch_size"))

    @model_validator(mode="after")
    def _overlap_below_size(self):
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_tokens ({self.chunk_tokens})")
        return self



# -- chunking -----------------------------------------------------------------------------------
@dataclass
class Chunk:
    chunk_id: int  # the FAISS id; never reused within an index
    doc_id: str
    title: str
    text: str  # heading path (or title) on the first line, then the passage
    position: int  # 0, 1, ... within its document
    heading: str = ""
    start: int = 0  # character offset of the passage in the document text


@dataclass
class Hit:
    chunk: Chunk
    score: float  # cosine (dense), BM25 score (bm25) or RRF score (hybrid)


_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def _sections(text: str) -> Iterable[tuple[str, str, int]]:
    """(heading path, body, start offset) for each Markdown section; text before the first heading
    has an empty path."""
    stack: list[tuple[int, str]] = []
    pos, path = 0, ""
    for m in _HEADING.finditer(text):
        yield path, text[pos:m.start()], pos
        level = len(m.group(1))
        stack = [(lv, t) for lv, t in stack if lv < level] + [(level, m.group(2).strip())]
        path = " > ".join(t for _, t in stack)
        pos = m.end()
    yield path, text[pos:], pos


def _splitter(tokenizer, size: int, overlap: int):
    # langchain's recursive splitter: packs paragraphs, then lines, then sentences, then words into
    # chunks measured with the embedding model's tokenizer, with overlap made of whole pieces.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        tokenizer, chunk_size=size, chunk_overlap=min(overlap, size // 2),
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""], keep_separator="end", add_start_index=True)


def chunk_document(doc, tokenizer, chunk_tokens: int = 200, chunk_overlap: int = 40) -> list[Chunk]:
    """Split one document into chunks of at most about `chunk_tokens` tokens of `tokenizer`.

    A chunk never spans two sections; its first line is its heading path ("Part 3 > Section 16")
    or, before any heading, the document's title, so each chunk says where it comes from.
    Chunk ids are left at -1: the index assigns them.
    """
    count = lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    chunks: list[Chunk] = []
    for path, body, offset in _sections(doc.text or ""):
        if not body.strip():
            continue
        label = path or doc.title or doc.id
        budget = max(16, chunk_tokens - count(label + "\n"))
        for piece in _splitter(tokenizer, budget, chunk_overlap).create_documents([body]):
            passage = piece.page_content.strip()
            if passage:
                chunks.append(Chunk(-1, doc.id, doc.title, f"{label}\n{passage}", len(chunks), path,
                                    offset + int(piece.metadata.get("start_index", 0))))
    return chunks


# -- the vector index ---------------------------------------------------------------------------
def choose_index_kind(index: str, n: int, flat_below: int = 20_000) -> str:
    if index != "auto":
        return index
    return "flat" if n < flat_below else "ivf"


def make_vector_index(kind: str, dim: int, train: np.ndarray | None, config: RagConfig):
    """An empty FAISS index of `kind` for inner product on normalised vectors, taking our ids.

    flat: exact. ivf: trained on `train` (a sample is enough), removes in place. hnsw: removal is
    a tombstone filtered at search time (FAISS's HNSW cannot delete).
    """
    import faiss

    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.hnsw.efSearch = config.hnsw_ef_search
        return faiss.IndexIDMap2(hnsw)
    if kind == "ivf":
        n = 0 if train is None else len(train)
        # about sqrt(n) lists (faiss's rule of thumb is sqrt(n) to 16·sqrt(n); the low end keeps
        # training short), each with the ~39 training points k-means wants
        nlist = max(1, min(int(math.sqrt(max(n, 1))), n // 39 or 1))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        if n:
            rng = np.random.default_rng(0)
            sample = train if n <= 50 * nlist else train[rng.choice(n, 50 * nlist, replace=False)]
            ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
        ivf.nprobe = min(config.ivf_nprobe, nlist)
        # IVF keeps the ids it is given (no IndexIDMap2 needed, and none wanted: IDMap's removal
        # assumes the inner index renumbers, which IVF does not).
        return ivf
    raise UserError(f"unknown index '{kind}': use auto, flat, hnsw or ivf", field="index")


def search_vectors(index, vecs: np.ndarray, k: int, params=None):
    """FAISS search, single-threaded for small batches: for a handful of queries OpenMP's thread
    start-up and barriers cost far more than the search itself (measured here: 0.9 ms with one
    thread against 32 ms with two for one query over 10k vectors on a busy 2-core machine)."""
    import faiss

    if len(vecs) >= 64:
        return index.search(vecs, k, params=params)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(vecs, k, params=params)
    finally:
        faiss.omp_set_num_threads(before)


def _index_kind_of(index) -> str:
    import faiss

    inner = faiss.downcast_index(index.index) if isinstance(index, (faiss.IndexIDMap, faiss.IndexIDMap2)) else index
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVF):
        return "ivf"
    return "flat"


def _fingerprint_docs(chunks: Iterable[Chunk]) -> str:
    h = hashlib.sha256()
    for c in sorted(chunks, key=lambda c: (c.doc_id, c.position)):
        h.update(json.dumps([c.doc_id, c.title, c.text], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _bm25s():
    """bm25s, with its logger put back to warnings: it sets its own to DEBUG on import."""
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@functools.lru_cache(maxsize=1)
def _stemmer():
    """English Snowball stemmer for BM25, so "lodged" matches "lodge" (PyStemmer, as bm25s advises)."""
    import Stemmer

    return Stemmer.Stemmer("english")


class RagIndex:
    """Chunks, their FAISS index and a BM25 index over the same chunks."""

    def __init__(self, config: RagConfig, embedder, vectors, chunks: list[Chunk], *, next_id: int = 0,
                 deleted: Iterable[int] = (), meta: dict | None = None):
        self.config = config
        self.embedder = embedder
        self.vectors = vectors  # the FAISS index
        self.chunks: dict[int, Chunk] = {c.chunk_id: c for c in chunks}
        self.next_id = next_id
        self.deleted: set[int] = set(deleted)  # HNSW tombstones
        self.meta = meta or {}
        self.timings: dict[str, float] = {}
        self._bm25 = None  # built on first use, rebuilt after add/remove

    def copy(self) -> "RagIndex":
        """An independent in-memory copy (FAISS index cloned): changes to it leave this one alone."""
        import copy

        import faiss

        return RagIndex(self.config, self.embedder, faiss.clone_index(self.vectors), list(self.chunks.values()),
                        next_id=self.next_id, deleted=self.deleted, meta=copy.deepcopy(self.meta))

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def build(cls, documents, embedder, config: RagConfig | None = None, progress: Progress | None = None,
              corpus_fingerprint: str = "") -> "RagIndex":
        config = config or RagConfig()
        _check_chunk_size(config, embedder)
        t0 = time.perf_counter()
        chunks = [c for d in documents for c in chunk_document(d, embedder.tokenizer, config.chunk_tokens, config.chunk_overlap)]
        for i, c in enumerate(chunks):
            c.chunk_id = i
        chunk_s = time.perf_counter() - t0
        vecs, embed_s = _embed([c.text for c in chunks], embedder, config.embed_batch_size, progress)
        t1 = time.perf_counter()
        kind = choose_index_kind(config.index, len(chunks), config.flat_below)
        vectors = make_vector_index(kind, embedder.dim, vecs, config)
        if len(chunks):
            vectors.add_with_ids(vecs, np.arange(len(chunks), dtype=np.int64))
        index_s = time.perf_counter() - t1
        index = cls(config, embedder, vectors, chunks, next_id=len(chunks),
                    meta={"corpus_fingerprint": corpus_fingerprint, "built": _now(), "changes": []})
        t2 = time.perf_counter()
        index.bm25()
        index.timings = {"chunk_s": chunk_s, "embed_s": embed_s, "index_s": index_s,
                         "bm25_s": time.perf_counter() - t2, "total_s": time.perf_counter() - t0}
        return index

    @property
    def kind(self) -> str:
        return _index_kind_of(self.vectors)

    @property
    def document_ids(self) -> list[str]:
        return list(dict.fromkeys(c.doc_id for c in self.chunks.values()))

    def __len__(self) -> int:
        return len(self.chunks)

    def add_documents(self, documents, progress: Progress | None = None) -> float:
        """Chunk, embed and add `documents` (replacing any with the same id); returns the seconds
        it took: the update cost of the RAG approach."""
        t0 = time.perf_counter()
        documents = list(documents)
        for d in documents:
            if d.id in {c.doc_id for c in self.chunks.values()}:
                self.remove_document(d.id)
        new = [c for d in documents for c in chunk_document(d, self.embedder.tokenizer, self.config.chunk_tokens,
                                                             self.config.chunk_overlap)]
        for c in new:
            c.chunk_id, self.next_id = self.next_id, self.next_id + 1
        vecs, _ = _embed([c.text for c in new], self.embedder, self.config.embed_batch_size, progress)
        if new:
            if self.kind == "ivf" and not self.vectors.is_trained:
                self.vectors = make_vector_index("ivf", self.embedder.dim, vecs, self.config)
            self.vectors.add_with_ids(vecs, np.array([c.chunk_id for c in new], dtype=np.int64))
        self.chunks.update({c.chunk_id: c for c in new})
        self._bm25 = None
        self.meta.setdefault("changes", []).append({"at": _now(), "added": [d.id for d in documents]})
        return time.perf_counter() - t0

    def remove_document(self, doc_id: str) -> int:
        """Remove every chunk of `doc_id`; returns how many. Unknown ids are a UserError."""
        ids = [cid for cid, c in self.chunks.items() if c.doc_id == doc_id]
        if not ids:
            raise UserError(f"no document '{doc_id}' in this index (it holds {len(self.document_ids)} documents)")
        if self.kind == "hnsw":
            self.deleted.update(ids)
        else:
            self.vectors.remove_ids(np.array(ids, dtype=np.int64))
        for cid in ids:
            del self.chunks[cid]
        self._bm25 = None
        self.meta.setdefault("changes", []).append({"at": _now(), "removed": doc_id})
        return len(ids)

    # -- searching -------------------------------------------------------------------------------
    def bm25(self):
        """(retriever, chunk ids in its order). Rebuilt from the chunks, not saved: bm25s indexes
        thousands of chunks in well under a second, and one source of truth cannot disagree."""
        if self._bm25 is None:
            bm25s = _bm25s()
            ids = list(self.chunks)
            retriever = bm25s.BM25()
            texts = [f"{self.chunks[i].title}\n{self.chunks[i].text}" for i in ids]
            if texts:
                retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False),
                                show_progress=False)
            self._bm25 = (retriever, ids)
        return self._bm25

    def _dense(self, vecs: np.ndarray, depth: int) -> list[list[tuple[int, float]]]:
        import faiss

        if not len(self.chunks) or not len(vecs):
            return [[] for _ in range(len(vecs))]
        params = None
        if self.deleted:
            params = faiss.SearchParameters(sel=faiss.IDSelectorNot(faiss.IDSelectorBatch(np.array(sorted(self.deleted), dtype=np.int64))))
        scores, ids = search_vectors(self.vectors, vecs, min(depth, len(self.chunks)), params=params)
        return [[(int(i), float(s)) for i, s in zip(row_i, row_s) if i >= 0 and int(i) in self.chunks]
                for row_i, row_s in zip(ids, scores)]

    def _sparse(self, questions: list[str], depth: int) -> list[list[tuple[int, float]]]:
        bm25s = _bm25s()
        retriever, ids = self.bm25()
        if not ids:
            return [[] for _ in questions]
        tokens = bm25s.tokenize(questions, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)
        out = []
        for toks in tokens:  # one at a time: a query with no known token would fail the batch
            if not toks:
                out.append([])
                continue
            res, scores = retriever.retrieve([toks], k=min(depth, len(ids)), show_progress=False)
            out.append([(ids[int(i)], float(s)) for i, s in zip(res[0], scores[0]) if s > 0])
        return out

    def search_many(self, questions: list[str], k: int | None = None, mode: str | None = None) -> list[list[Hit]]:
        k = k or self.config.top_k
        mode = mode or self.config.retrieval
        if mode not in ("dense", "bm25", "hybrid"):
            raise UserError(f"unknown retrieval '{mode}': use dense, bm25 or hybrid", field="retrieval")
        questions = list(questions)
        depth = max(k, self.config.fusion_depth) if mode == "hybrid" else k
        dense = self._dense(self.embedder.encode(questions), depth) if mode != "bm25" else None
        sparse = self._sparse(questions, depth) if mode != "dense" else None
        results = []
        for i in range(len(questions)):
            if mode == "dense":
                ranked = dense[i][:k]
            elif mode == "bm25":
                ranked = sparse[i][:k]
            else:
                ranked = rrf([[cid for cid, _ in dense[i]], [cid for cid, _ in sparse[i]]], self.config.rrf_k)[:k]
            results.append([Hit(self.chunks[cid], score) for cid, score in ranked])
        return results

    def search(self, question: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        return self.search_many([question], k=k, mode=mode)[0]

    # -- persistence -----------------------------------------------------------------------------
    def save(self, folder: str | Path) -> dict:
        """Write index.faiss, chunks.jsonl, then manifest.json (last, with both checksums): a crash
        in between leaves a checksum mismatch that load() reports, never a silently wrong index."""
        import faiss

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes(folder / INDEX_FILE, faiss.serialize_index(self.vectors).tobytes())
        rows = sorted(self.chunks.values(), key=lambda c: c.chunk_id)
        write_jsonl(folder / CHUNKS_FILE, (asdict(c) for c in rows))
        files = {name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size}
                 for name in (INDEX_FILE, CHUNKS_FILE)}
        emb = self.embedder
        manifest = {
            "format": FORMAT_VERSION,
            "embedding": {"name": emb.source.name, "kind": emb.source.kind, "path": emb.source.path,
                          "fingerprint": _embedder_fingerprint(emb), "dim": emb.dim},
            "corpus_fingerprint": self.meta.get("corpus_fingerprint", ""),
            "documents_fingerprint": _fingerprint_docs(rows),
            "documents": len(self.document_ids), "chunks": len(rows), "index_kind": self.kind,
            "chunking": {"chunk_tokens": self.config.chunk_tokens, "chunk_overlap": self.config.chunk_overlap,
                         "tokenizer": emb.source.name},
            "config": self.config.model_dump(), "next_id": self.next_id, "deleted_ids": sorted(self.deleted),
            "built": self.meta.get("built", _now()), "saved": _now(), "changes": self.meta.get("changes", []),
            "files": files,
        }
        write_json(folder / MANIFEST_FILE, manifest)
        return {name: f["bytes"] for name, f in files.items()}

    @classmethod
    def load(cls, folder: str | Path, embedder) -> "RagIndex":
        """Load a saved index, refusing (UserError) anything missing, damaged or built with another
        embedding model."""
        import faiss

        folder = Path(folder)
        hint = "rebuild it: assistant build rag"
        for name in (MANIFEST_FILE, INDEX_FILE, CHUNKS_FILE):
            if not (folder / name).is_file():
                raise UserError(f"the RAG index is incomplete: {name} is missing ({hint})", path=folder / name)
        try:
            manifest = read_json(folder / MANIFEST_FILE)
            files = manifest["files"]
            emb_meta = manifest["embedding"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
            raise UserError(f"damaged index manifest ({type(e).__name__}: {e}); {hint}", path=folder / MANIFEST_FILE) from None
        if manifest.get("format") != FORMAT_VERSION:
            raise UserError(f"index format {manifest.get('format')} is not {FORMAT_VERSION}; {hint}", path=folder / MANIFEST_FILE)
        for name in (INDEX_FILE, CHUNKS_FILE):
            if sha256_file(folder / name) != files.get(name, {}).get("sha256"):
                raise UserError(f"checksum mismatch: the file is damaged or was changed after the index was built; {hint}",
                                path=folder / name)
        if emb_meta.get("dim") != embedder.dim:
            raise UserError(f"the index has {emb_meta.get('dim')}-dimensional vectors but embedding model "
                            f"'{embedder.source.name}' makes {embedder.dim}; load it with '{emb_meta.get('name')}' or {hint}",
                            path=folder / MANIFEST_FILE)
        if emb_meta.get("fingerprint") != _embedder_fingerprint(embedder):
            raise UserError(f"the index was built with embedding model '{emb_meta.get('name')}' "
                            f"({emb_meta.get('kind')}, fingerprint {str(emb_meta.get('fingerprint'))[:12]}), not with "
                            f"'{embedder.source.name}'; use that model or {hint}", path=folder / MANIFEST_FILE)
        try:
            vectors = faiss.deserialize_index(np.frombuffer((folder / INDEX_FILE).read_bytes(), dtype=np.uint8))
        except RuntimeError as e:
            raise UserError(f"FAISS cannot read the index ({str(e).splitlines()[0][:80]}); {hint}", path=folder / INDEX_FILE) from None
        if vectors.d != embedder.dim:
            raise UserError(f"dimension mismatch: index {vectors.d}, embedding model {embedder.dim}; {hint}", path=folder / INDEX_FILE)
        chunks = []
        for n, line in enumerate((folder / CHUNKS_FILE).read_text(encoding="utf-8").splitlines(), 1):
            try:
                chunks.append(Chunk(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as e:
                raise UserError(f"damaged chunk record: {e}; {hint}", path=folder / CHUNKS_FILE, line=n) from None
        deleted = manifest.get("deleted_ids", [])
        if vectors.ntotal != len(chunks) + len(deleted):
            raise UserError(f"the index holds {vectors.ntotal} vectors for {len(chunks)} chunks; {hint}", path=folder / INDEX_FILE)
        config = RagConfig(**manifest.get("config", {}))
        return cls(config, embedder, vectors, chunks, next_id=manifest.get("next_id", len(chunks)), deleted=deleted,
                   meta={k: manifest.get(k) for k in ("corpus_fingerprint", "built", "changes")})


def rrf(rankings: list[list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): score(d) = Σ 1 / (k + rank), rank
    from 1. Ties keep the order of first appearance."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def _embed(texts: list[str], embedder, batch_size: int, progress: Progress | None) -> tuple[np.ndarray, float]:
    """Embed in batches (longest first, so padding stays small across batches), reporting progress."""
    t0 = time.perf_counter()
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    step = batch_size * 4
    for start in range(0, len(order), step):
        idx = order[start:start + step]
        out[idx] = embedder.encode([texts[i] for i in idx], batch_size=batch_size)
        if progress:
            progress(min(start + step, len(texts)), len(texts), "embedding chunks")
    return out, time.perf_counter() - t0


def _embedder_fingerprint(embedder) -> str:
    # hashing the model's weights takes a moment: once per embedder object
    fp = getattr(embedder, "_rag_fingerprint", None)
    if fp is None:
        fp = embedder.fingerprint()
        try:
            embedder._rag_fingerprint = fp
        except AttributeError:  # pragma: no cover - a frozen embedder
            pass
    return fp


def _check_chunk_size(config: RagConfig, embedder) -> None:
    if config.chunk_tokens > embedder.max_tokens:
        raise UserError(f"chunk_tokens {config.chunk_tokens} is more than embedding model '{embedder.source.name}' "
                        f"reads ({embedder.max_tokens} tokens): the rest would be cut off", field="chunk_tokens")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- the prompt ---------------------------------------------------------------------------------
INSTRUCTION = ("Answer the question using only the numbered sources below. Cite the sources you use "
               "as [1], [2]. If the sources do not contain the answer, reply exactly: " + UNANSWERABLE)
# for the focused context: terse and extractive, what a small reader follows best
FOCUSED_INSTRUCTION = ("Answer the question in a few words, copied from the numbered sources below. If the "
                       "sources do not contain the answer, reply exactly: " + UNANSWERABLE)


def rag_prompt(llm, question: str, hits: list[Hit], system_prompt: str | None = None,
               context_tokens: int = 1024, context: str = "chunks", focus_tokens: int = 192,
               prompt_format: str = "chat") -> str:
    """The prompt for one question (see rag_prompt_and_sources)."""
    return rag_prompt_and_sources(llm, question, hits, system_prompt, context_tokens, context, focus_tokens,
                                  prompt_format)[0]


def completion_prompt(user: str, system: str | None = None) -> str:
    """The same words as the chat prompt, without the chat template: a plain text the model
    continues after "Answer:" (its answer ends at the first line break: `first_line`)."""
    return (f"{system}\n\n" if system else "") + f"{user}\nAnswer:"


def first_line(text: str) -> str:
    """A completion's answer: its first non-empty line."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def rag_prompt_and_sources(llm, question: str, hits: list[Hit], system_prompt: str | None = None,
                           context_tokens: int = 1024, context: str = "chunks",
                           focus_tokens: int = 192, prompt_format: str = "chat") -> tuple[str, list[Hit]]:
    """The chat prompt for one question: the instruction, numbered sources in rank order, then the
    question; and the hits the model was shown, in the order numbered, so that citation [n] is
    shown[n-1]. `chunks`: whole chunks, as many as fit in `context_tokens` of the LLM's tokenizer
    (the last one cut to fit). `focused`: the sentences and table rows of the chunks that bear on
    the question (focus.py), within `focus_tokens`. `prompt_format` completion: the same words as
    plain text (completion_prompt)."""
    tok = llm.tokenizer

    def wrap(user: str) -> str:
        return completion_prompt(user, system_prompt) if prompt_format == "completion" else \
            llm.chat_prompt(user, system_prompt or None)

    count = lambda s: len(tok(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    frame = f"{INSTRUCTION}\n\nSources:\n\n\nQuestion: {question}"
    budget = context_tokens
    max_ctx = getattr(getattr(getattr(llm, "model", None), "config", None), "max_position_embeddings", None)
    if isinstance(max_ctx, int) and max_ctx > 0:  # leave room for the frame, the template and the answer
        budget = min(budget, max_ctx - count(frame) - count(system_prompt or "") - 192)
    if context == "focused":
        from .focus import focus

        pieces = focus(question, [h.chunk.text for h in hits], count, min(budget, focus_tokens))
        shown = [hits[i] for i in sorted(pieces)]
        sources = [f"[{n}] {hits[i].chunk.title or hits[i].chunk.doc_id}\n" + "\n".join(pieces[i])
                   for n, i in enumerate(sorted(pieces), 1)]
        block = "\n\n".join(sources) if sources else "(no sources were found)"
        user = f"{FOCUSED_INSTRUCTION}\n\nSources:\n{block}\n\nQuestion: {question}"
        return wrap(user), shown
    sources, used = [], 0
    for n, hit in enumerate(hits, 1):
        header = f"[{n}] {hit.chunk.title or hit.chunk.doc_id}\n"
        body = hit.chunk.text
        need = count(header + body + "\n\n")
        if used + need <= budget:
            sources.append(header + body)
            used += need
            continue
        room = budget - used
        ids = tok(body, add_special_tokens=False)["input_ids"]
        keep = room - count(header + " …\n\n")
        while keep >= 24:  # a truncated source still worth reading; tokens do not add up exactly: check
            piece = header + tok.decode(ids[:keep], skip_special_tokens=True).rstrip() + " …"
            if count(piece + "\n\n") <= room:
                sources.append(piece)
                break
            keep -= 4
        break
    block = "\n\n".join(sources) if sources else "(no sources were found)"
    user = f"{INSTRUCTION}\n\nSources:\n{block}\n\nQuestion: {question}"
    return wrap(user), hits[:len(sources)]


# -- metrics --------------------------------------------------------------------------------------
def retrieval_metrics(index: RagIndex, qa_pairs, k: int | None = None, mode: str | None = None) -> dict:
    """hit@k, MRR@k and nDCG@k over the pairs that name their documents.

    Relevance is per document: the top-k chunks are read as the ranked list of their distinct
    documents, and a document is relevant when the pair names it (binary gains, log2 discount).
    """
    k = k or index.config.top_k
    pairs = [q for q in qa_pairs if q.doc_ids]
    result = {"n": len(pairs), "k": k, "mode": mode or index.config.retrieval, "hit_at_k": None, "mrr": None, "ndcg": None}
    if not pairs:
        return result
    hits_all = index.search_many([q.question for q in pairs], k=k, mode=mode)
    hit = mrr = ndcg = 0.0
    for q, hits in zip(pairs, hits_all):
        gold = set(q.doc_ids)
        ranked = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        rels = [1.0 if d in gold else 0.0 for d in ranked]
        if any(rels):
            hit += 1
            mrr += 1.0 / (rels.index(1.0) + 1)
        dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rels))
        idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), k)))
        ndcg += dcg / idcg
    n = len(pairs)
    result.update(hit_at_k=round(hit / n, 4), mrr=round(mrr / n, 4), ndcg=round(ndcg / n, 4))
    return result


# -- the builder the pipeline calls ----------------------------------------------------------------
def build_index(run, corpus, config: RagConfig | None = None, device: str = "auto", embedder=None,
                events: Events = no_events, cancel=None) -> RagIndex:
    """Build the RAG index of `corpus` into `run`/rag/, recording the stage and the embedding model.
    An Event after each embedding batch; a set `cancel` stops between batches (Cancelled)."""
    from .embed import load_embedder

    config = config or RagConfig()
    if embedder is None:
        embedder = load_embedder(run.embedding_model, device=device)
    if not corpus.documents:
        raise UserError(f"corpus '{corpus.name}' has no documents to index", path=corpus.root)

    def progress(done: int, total: int, message: str) -> None:
        check(cancel)
        events(Event("rag", done, total, message))

    with run.running("rag") as stage:
        index = RagIndex.build(corpus.documents, embedder, config, progress, corpus_fingerprint=corpus.fingerprint)
        update_s = _measure_update(index, corpus.documents[-1])
        sizes = index.save(run.dir("rag"))
        t = index.timings
        stage.update(chunks=len(index), documents=len(index.document_ids), index=index.kind,
                     build_s=round(t["total_s"], 3), embed_s=round(t["embed_s"], 3),
                     embed_chunks_per_s=round(len(index) / t["embed_s"], 1) if t["embed_s"] else None,
                     index_bytes=sum(sizes.values()), update_add_doc_s=round(update_s, 3),
                     config=config.model_dump())
        src = embedder.source
        run.manifest.setdefault("models", {})["embedding"] = {
            "name": src.name, "kind": src.kind, "path": src.path, "fingerprint": _embedder_fingerprint(embedder)}
    return index


def index_facts(run, device: str = "auto") -> dict:
    """Build time, size and the measured cost of adding one document to a run's index."""
    from .corpus import Document
    from .embed import load_embedder
    from .files import folder_size_mb

    stage = run.stage("rag")
    update_s = stage.get("update_add_doc_s")
    if update_s is None and (run.path / "rag" / INDEX_FILE).exists():  # an index built before this was recorded
        index = RagIndex.load(run.path / "rag", load_embedder(run.embedding_model, device=device))
        doc_id = index.document_ids[0]
        text = "\n\n".join(c.text for c in index.chunks.values() if c.doc_id == doc_id)
        update_s = index.add_documents([Document(id="update-probe", title="update probe", text=text)])  # in memory only
    return {"build_s": stage.get("wall_s"), "size_mb": folder_size_mb(run.path / "rag"), "update_s": update_s,
            "update_how": "add one document to the index, measured"}


def load_index(run, device: str = "auto") -> RagIndex:
    """The run's saved index, with the embedding model it was built with."""
    from .embed import load_embedder

    if not (run.path / "rag" / INDEX_FILE).exists():
        raise UserError(f"run {run.id} has no RAG index (build it: assistant build rag)")
    return RagIndex.load(run.path / "rag", load_embedder(run.embedding_model, device=device))


def _measure_update(index: RagIndex, doc) -> float:
    """The update cost, measured for real: take one document out and add it back."""
    index.remove_document(doc.id)
    seconds = index.add_documents([doc])
    index.meta["changes"] = []  # a measurement, not a change of content
    return seconds


def read_documents(path: str | Path) -> list:
    """Documents to add to an index: one file (.md, .txt, .html, .pdf), a docs.jsonl, or a folder of
    them (a corpus folder: its docs/ or docs.jsonl). Read by the corpus loader's own readers."""
    from collections import Counter

    from .corpus import DOC_READERS, DOC_TYPES, docs_from_folder, docs_from_jsonl, read_jsonl

    path = Path(path)
    if path.is_file() and path.suffix.lower() in DOC_TYPES:
        return [DOC_READERS[DOC_TYPES[path.suffix.lower()]](path, path.stem)]
    if path.is_file() and path.suffix.lower() == ".jsonl":
        return [d for d, _ in docs_from_jsonl(path, read_jsonl(path))]
    if path.is_dir():
        if (path / "docs.jsonl").is_file() and not (path / "docs").is_dir():
            return read_documents(path / "docs.jsonl")
        folder = path / "docs" if (path / "docs").is_dir() else path
        docs = [d for d, _ in docs_from_folder(folder, folder, Counter(), [])]
        if not docs:
            raise UserError(f"no documents ({', '.join(sorted(DOC_TYPES))}) in this folder", path=path)
        return docs
    raise UserError(f"not a document ({', '.join(sorted(DOC_TYPES))}), a docs.jsonl or a folder of them", path=path)
