"""Q&A records in any of the accepted formats: ours (question/answer), Alpaca, ShareGPT, chat
messages, CSV, in JSONL or a JSON array."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import UserError
from .model import ANSWER_TYPES, KINDS, SPLITS, QAPair
from .rows import clean_id, read_csv, read_json_array, read_jsonl, text_field


CONVERSATION_ROLES = {  # ShareGPT `from` / chat `role` values: who asks, who answers
    "question": {"human", "user"},
    "answer": {"gpt", "assistant", "chatgpt", "bard", "bing", "model"},
    "ignored": {"system", "tool", "function"},
}


@dataclass
class QARecord:
    """One Q&A pair as read, with where it came from (for errors found later)."""
    pair: QAPair
    path: Path
    line: int
    format: str
    explicit_id: bool
    question_field: str = "question"
    answer_field: str = "answer"
    doc_field: str = "doc_ids"
    extra_turns: bool = False


def _conversation(obj: dict, key: str, role_key: str, text_key: str, *, path: Path, line: int):
    """The first question/answer exchange of a ShareGPT or chat-messages record."""
    turns = obj[key]
    if not isinstance(turns, list):
        raise UserError("must be a list of turns", path=path, line=line, field=key)
    question = answer = None
    exchanges = 0
    for i, turn in enumerate(turns):
        where = f"{key}[{i}]"
        if not isinstance(turn, dict):
            raise UserError("each turn must be an object", path=path, line=line, field=where)
        if role_key not in turn:
            raise UserError("missing", path=path, line=line, field=f"{where}.{role_key}")
        role = str(turn[role_key]).lower()
        if role in CONVERSATION_ROLES["ignored"]:
            continue
        if role not in CONVERSATION_ROLES["question"] | CONVERSATION_ROLES["answer"]:
            raise UserError(f"unknown role {turn[role_key]!r}: expected human/user or gpt/assistant",
                            path=path, line=line, field=f"{where}.{role_key}")
        content = turn.get(text_key)
        if isinstance(content, list):  # chat content given as parts: keep the text parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
        if content is None:
            raise UserError("missing", path=path, line=line, field=f"{where}.{text_key}")
        if not isinstance(content, str):
            raise UserError("must be text", path=path, line=line, field=f"{where}.{text_key}")
        if role in CONVERSATION_ROLES["question"]:
            if question is None:
                question = (content, f"{where}.{text_key}")
            elif answer is not None:
                exchanges += 1
        elif question is not None and answer is None:
            answer = (content, f"{where}.{text_key}")
    if question is None:
        raise UserError("no human/user turn", path=path, line=line, field=key)
    if answer is None:
        raise UserError("no gpt/assistant turn after the first question", path=path, line=line, field=key)
    return question, answer, exchanges > 0


def _str_list(obj: dict, key: str, *, path: Path, line: int) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, str):  # from CSV: several values separated by | or ;
        return [v.strip() for v in re.split(r"[|;]", value) if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise UserError("must be a list of strings", path=path, line=line, field=key)
    return [str(v).strip() for v in value]


def _choice(obj: dict, key: str, allowed: Sequence[str], *, path: Path, line: int) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise UserError(f"bad value {value!r}: use {', '.join(allowed)}", path=path, line=line, field=key)
    return value


def _qa_record(obj: dict, *, path: Path, line: int, csv_file: bool) -> QARecord:
    extra = False
    if csv_file:
        fmt = "csv"
    elif "conversations" in obj:
        fmt = "sharegpt"
    elif "messages" in obj:
        fmt = "chat-messages"
    elif "instruction" in obj:
        fmt = "alpaca"
    elif "question" in obj or "answer" in obj:
        fmt = "qa-jsonl"
    else:
        raise UserError("not a Q&A record: expected question/answer, instruction/output (Alpaca), "
                        "conversations (ShareGPT) or messages (chat)", path=path, line=line, field="question")
    if fmt == "sharegpt":
        (question, qf), (answer, af), extra = _conversation(obj, "conversations", "from", "value", path=path, line=line)
    elif fmt == "chat-messages":
        (question, qf), (answer, af), extra = _conversation(obj, "messages", "role", "content", path=path, line=line)
    elif fmt == "alpaca":
        qf, af = "instruction", "output"
        question = text_field(obj, "instruction", path=path, line=line)
        context = text_field(obj, "input", path=path, line=line, required=False).strip()
        question = f"{question.strip()}\n\n{context}" if context else question
        answer = text_field(obj, "output", path=path, line=line)
    else:
        qf, af = "question", "answer"
        question = text_field(obj, "question", path=path, line=line)
        answer = text_field(obj, "answer", path=path, line=line)
    if not question.strip():
        raise UserError("empty question", path=path, line=line, field=qf)
    if not answer.strip():
        raise UserError("empty answer", path=path, line=line, field=af)

    explicit = obj.get("id") is not None and obj.get("id") != ""
    qa_id = clean_id(obj["id"], path=path, line=line, field="id") if explicit else f"q{line}"
    doc_ids = _str_list(obj, "doc_ids", path=path, line=line)
    if obj.get("doc_id") not in (None, ""):
        one = obj["doc_id"]
        if isinstance(one, bool) or not isinstance(one, (str, int)):
            raise UserError("must be a string (use doc_ids for a list)", path=path, line=line, field="doc_id")
        doc_ids = [str(one).strip()] + [d for d in doc_ids if d != str(one).strip()]
    for d in doc_ids:
        if not d:
            raise UserError("empty document id", path=path, line=line, field="doc_ids")
    aliases = _str_list(obj, "answer_aliases", path=path, line=line)
    if any(not a for a in aliases):
        raise UserError("empty alias", path=path, line=line, field="answer_aliases")
    fact = obj.get("fact_id")
    if fact is not None and (isinstance(fact, bool) or not isinstance(fact, (str, int))):
        raise UserError("must be a string", path=path, line=line, field="fact_id")
    pair = QAPair(id=qa_id, question=question.strip(), answer=answer.strip(), doc_ids=doc_ids,
                  split=_choice(obj, "split", SPLITS, path=path, line=line),
                  kind=_choice(obj, "kind", KINDS, path=path, line=line),
                  fact_id=None if fact in (None, "") else str(fact).strip(),
                  answer_type=_choice(obj, "answer_type", ANSWER_TYPES, path=path, line=line),
                  answer_aliases=aliases)
    doc_field = "doc_id" if obj.get("doc_id") not in (None, "") and not obj.get("doc_ids") else "doc_ids"
    return QARecord(pair, path, line, fmt, explicit, qf, af, doc_field, extra)


def read_qa(path: Path) -> list[QARecord]:
    suffix = path.suffix.lower()
    rows = read_csv(path) if suffix == ".csv" else read_json_array(path) if suffix == ".json" else read_jsonl(path)
    return [_qa_record(obj, path=path, line=n, csv_file=suffix == ".csv") for n, obj in rows]
