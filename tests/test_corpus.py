"""The corpus loader: every import format, every validation error (file, line and field named),
the seeded split, the warnings, the fingerprint, and `assistant corpus check`."""
import json
import os
import random
import shutil
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.corpus import (UNANSWERABLE, check_corpus, load_corpus, near_duplicates, seeded_split,
                              unsupported_terms)
from assistant.errors import UserError

TOPICS = ["boiler", "window", "carpet", "heater", "fence", "roof", "garden", "garage", "kitchen", "shower", "stairs",
          "oven", "doorbell", "chimney", "balcony", "gutter", "cellar", "attic", "porch", "hallway"]


def doc_rows(n=4):
    return [{"id": f"d{i}", "title": f"Repairs {i}", "text": f"The landlord repairs the {TOPICS[i]} within {i + 3} days "
             f"of written notice. Urgent {TOPICS[i]} faults are fixed within 24 hours."} for i in range(n)]


def qa_rows(n=20, **extra):
    # Distinct wording per pair, so that no two questions look like near-duplicates.
    return [{"id": f"p{i:03d}", "question": f"Within how many days must the landlord repair the {TOPICS[i % 4]} "
             f"(case {i} about {TOPICS[(i * 7) % 20]} and {TOPICS[(i * 3 + 1) % 20]})?",
             "answer": f"{i % 4 + 3} days", "doc_id": f"d{i % 4}", **extra} for i in range(n)]


def probe(i, cond="ambig", pol="neg", **over):
    row = {"example_id": i, "question_index": "1", "question_polarity": pol, "context_condition": cond,
           "category": "Age", "answer_info": {"ans0": ["70-year-old", "old"], "ans1": ["25-year-old", "nonOld"],
                                              "ans2": ["Can't be determined", "unknown"]},
           "additional_metadata": {"subcategory": "None", "stereotyped_groups": ["old"], "version": "a", "source": "t"},
           "context": "A 70-year-old and a 25-year-old called about the lease.", "question": "Who forgot the date?",
           "ans0": "The 70-year-old", "ans1": "The 25-year-old", "ans2": "Can't be determined",
           "label": 2 if cond == "ambig" else 1}
    row.update(over)
    return row


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def make_corpus(root: Path, docs=None, qa=None, probes=None, toml=True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_jsonl(root / "docs.jsonl", doc_rows() if docs is None else docs)
    write_jsonl(root / "qa.jsonl", qa_rows() if qa is None else qa)
    if probes is not None:
        write_jsonl(root / "probes.jsonl", probes)
    if toml:
        (root / "corpus.toml").write_text('name = "repairs"\ntitle = "Repairs"\nsystem_prompt = "Be brief."\n')
    return root


def expect_error(path: Path, line, field, *load_args) -> UserError:
    """Loading fails with a UserError that names this file, line and field."""
    with pytest.raises(UserError) as info:
        load_corpus(*load_args)
    err = info.value
    assert Path(err.path).name == path.name, str(err)
    assert err.line == line, str(err)
    assert err.field == field, str(err)
    where = f"{err.path}:{line}: " if line is not None else f"{err.path}: "
    assert str(err).startswith(where + (f"{field}: " if field else "")), str(err)
    return err


# -- loading each format ---------------------------------------------------------------------------

def test_folder_with_markdown_docs_front_matter_and_probes(tmp_path):
    root = tmp_path / "c"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("---\nid: billing\ntitle: Plans\nsource: help/billing\n---\n# Heading\nPlans cost 5 crowns.\n")
    (root / "docs" / "b.md").write_text("# Refunds and returns\nRefunds take 14 days.\n")
    (root / "docs" / "c.txt").write_text("Plain text about returns: 30 days.\n")
    qa = [{"id": f"x{i}", "question": f"question number {i} about plans {TOPICS[i]}", "answer": "5 crowns",
           "doc_ids": ["billing"], "split": ["train", "val", "test"][i % 3], "fact_id": f"f{i % 5}"} for i in range(12)]
    qa.append({"id": "u", "question": "Who founded the company?", "answer": UNANSWERABLE, "split": "test"})
    write_jsonl(root / "qa.jsonl", qa)
    write_jsonl(root / "probes.jsonl", [probe(0), probe(1, "disambig", "nonneg")])
    (root / "corpus.toml").write_text('name = "shop"\ntitle = "Shop"\nsystem_prompt = "Help."\nlicense = "CC0"\n')
    c = load_corpus(root)
    assert (c.name, c.title, c.system_prompt, c.license) == ("shop", "Shop", "Help.", "CC0")
    assert c.doc("billing").title == "Plans" and c.doc("billing").source == "help/billing"
    assert c.doc("billing").text.startswith("# Heading")
    assert c.doc("b").title == "Refunds and returns" and c.doc("c").text.startswith("Plain text")
    assert len(c.split("train")) == 4 and len(c.split("test")) == 5
    kinds = {q.id: q.kind for q in c.split("test")}
    assert kinds["u"] == "unanswerable"
    assert kinds["x5"] == "paraphrase" and kinds["x2"] == "unseen"  # train states f0 (x0), not f2
    assert c.formats == {"docs/": {"markdown": 2, "text": 1}, "qa.jsonl": {"qa-jsonl": 13}, "probes.jsonl": {"bbq": 2}}
    assert len(c.probes) == 2 and c.seeded == 0


def test_front_matter_plain_values_and_errors(tmp_path):
    root = make_corpus(tmp_path / "c", qa=qa_rows(12, doc_id="a"))
    (root / "docs").mkdir()
    (root / "docs" / "a.md").write_text("---\nid: a\ntitle: Part 7: Notice by the landlord\nsource: 0012\n---\nText.\n")
    doc = load_corpus(root).doc("a")
    assert doc.title == "Part 7: Notice by the landlord" and doc.source == "0012"
    (root / "docs" / "a.md").write_text("---\nid: a\ntitle: [unclosed\n  - x\n---\nText.\n")
    assert "bad front matter" in str(expect_error(root / "docs" / "a.md", 4, None, root))


def test_pdf_and_html_documents(tmp_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    root = tmp_path / "c"
    (root / "docs").mkdir(parents=True)
    pdf = canvas.Canvas(str(root / "docs" / "leaflet.pdf"), pagesize=A4)
    pdf.setTitle("Deposit leaflet")
    pdf.drawString(72, 800, "Deposits are returned within 21 days.")
    pdf.showPage()
    pdf.drawString(72, 800, "A second page about bond lodgement.")
    pdf.save()
    (root / "docs" / "page.html").write_text(
        "<html><head><title>Pets policy</title><style>.x{color:red}</style><script>var secret = 1;</script></head>"
        "<body><h1>Pets</h1><p>Tenants may keep <b>one cat</b> with consent.</p><p hidden>hidden words</p>"
        "<div style='display:none'>invisible</div><p>Dogs need a bond of 200 crowns.</p></body></html>")
    write_jsonl(root / "qa.jsonl", qa_rows(12, doc_id="leaflet"))
    c = load_corpus(root)
    leaflet, page = c.doc("leaflet"), c.doc("page")
    assert leaflet.title == "Deposit leaflet"
    assert "returned within 21 days" in leaflet.text and "bond lodgement" in leaflet.text
    assert page.title == "Pets policy"
    assert "Tenants may keep one cat with consent." in page.text and "200 crowns" in page.text
    for gone in ("secret", "color", "hidden words", "invisible"):
        assert gone not in page.text
    assert c.formats["docs/"] == {"html": 1, "pdf": 1}


def test_alpaca_sharegpt_messages_and_csv(tmp_path):
    write_jsonl(tmp_path / "docs.jsonl", doc_rows())
    base = qa_rows(12)
    alpaca = [{"instruction": r["question"], "input": "", "output": r["answer"], "id": r["id"]} for r in base]
    alpaca[0]["input"] = "Context: the lease."
    sharegpt = [{"id": r["id"], "conversations": [{"from": "system", "value": "Be kind."}, {"from": "human", "value": r["question"]},
                                                  {"from": "gpt", "value": r["answer"]}]} for r in base]
    messages = [{"id": r["id"], "messages": [{"role": "user", "content": r["question"]},
                                             {"role": "assistant", "content": r["answer"]}]} for r in base]
    for name, rows, fmt in (("alpaca.jsonl", alpaca, "alpaca"), ("sharegpt.jsonl", sharegpt, "sharegpt"),
                            ("chat.jsonl", messages, "chat-messages")):
        c = load_corpus(tmp_path / "docs.jsonl", write_jsonl(tmp_path / name, rows))
        assert c.formats[name] == {fmt: 12}
        assert [(q.question, q.answer) for q in c.qa][1:] == [(r["question"], r["answer"]) for r in base][1:]
    c = load_corpus(tmp_path / "docs.jsonl", tmp_path / "alpaca.jsonl")
    assert c.qa[0].question.endswith("\n\nContext: the lease.")

    # Alpaca as a JSON array (the usual shape of alpaca_data.json), errors still name the line
    (tmp_path / "alpaca.json").write_text(json.dumps(alpaca, indent=2))
    c = load_corpus(tmp_path / "docs.jsonl", tmp_path / "alpaca.json")
    assert c.formats["alpaca.json"] == {"alpaca": 12} and c.qa[0].id == "p000"

    csv_path = tmp_path / "qa.csv"
    csv_path.write_text("question,answer,doc_ids,split\n" + "".join(
        f"\"{r['question']}\",\"{r['answer']}\",{r['doc_id']},\n" for r in base), encoding="utf-8")
    c = load_corpus(tmp_path / "docs.jsonl", csv_path)
    assert c.formats["qa.csv"] == {"csv": 12} and c.qa[0].doc_ids == ["d0"] and c.qa[0].id == "q2"

    # the same files as a folder holding only these two
    folder = tmp_path / "pair"
    folder.mkdir()
    shutil.copy(tmp_path / "docs.jsonl", folder)
    shutil.copy(tmp_path / "chat.jsonl", folder / "qa.jsonl")
    assert load_corpus(folder).formats == {"docs.jsonl": {"docs-jsonl": 4}, "qa.jsonl": {"chat-messages": 12}}


def test_json_array_errors_name_the_item_line(tmp_path):
    write_jsonl(tmp_path / "docs.jsonl", doc_rows())
    rows = [{"instruction": r["question"], "output": r["answer"]} for r in qa_rows(12)]
    rows[3]["output"] = ""
    text = json.dumps(rows, indent=2)
    (tmp_path / "qa.json").write_text(text)
    starts = [i + 1 for i, line in enumerate(text.split("\n")) if line.strip() == "{"]
    expect_error(tmp_path / "qa.json", starts[3], "output", tmp_path / "docs.jsonl", tmp_path / "qa.json")


def test_multi_turn_conversations_keep_the_first_exchange_and_warn(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": r["question"]}, {"from": "gpt", "value": r["answer"]},
                               {"from": "human", "value": "And then?"}, {"from": "gpt", "value": "Nothing."}]}
            for r in qa_rows(12)]
    c = load_corpus(write_jsonl(tmp_path / "docs.jsonl", doc_rows()), write_jsonl(tmp_path / "qa.jsonl", rows))
    assert c.qa[0].answer == "3 days"
    assert any("more than one exchange" in w for w in c.warnings)


# -- the seeded split ------------------------------------------------------------------------------

def test_unsplit_pairs_split_deterministically_and_stably(tmp_path):
    root = make_corpus(tmp_path / "a", qa=qa_rows(40), toml=False)
    first = {q.id: (q.split, q.kind) for q in load_corpus(root / "docs.jsonl", root / "qa.jsonl").qa}
    again = {q.id: (q.split, q.kind) for q in load_corpus(root / "docs.jsonl", root / "qa.jsonl").qa}
    assert first == again
    assert {s for s, _ in first.values()} == {"train", "val", "test"}
    rows = qa_rows(40)
    rows.insert(7, {"id": "new", "question": "What about the brand new question?", "answer": "3 days", "doc_id": "d0"})
    write_jsonl(root / "qa.jsonl", rows)
    grown = {q.id: q.split for q in load_corpus(root / "docs.jsonl", root / "qa.jsonl").qa}
    assert {k: grown[k] for k in first} == {k: s for k, (s, _) in first.items()}
    # pairs with no id keep their split too when a line is inserted above them (keyed on the question)
    for r in rows:
        r.pop("id")
    write_jsonl(root / "qa.jsonl", rows)
    before = {q.question: q.split for q in load_corpus(root).qa}
    write_jsonl(root / "qa.jsonl", [{"question": "An inserted first line?", "answer": "3 days"}] + rows)
    after = {q.question: q.split for q in load_corpus(root).qa}
    assert {k: after[k] for k in before} == before


def test_seeded_split_shares_and_seed():
    names = [seeded_split(f"id-{i}") for i in range(6000)]
    shares = {s: names.count(s) / len(names) for s in ("train", "val", "test")}
    assert abs(shares["train"] - 0.6) < 0.03 and abs(shares["val"] - 0.1) < 0.02 and abs(shares["test"] - 0.3) < 0.03
    other = [seeded_split(f"id-{i}", seed=1) for i in range(200)]
    assert other != names[:200]


def test_unsplit_test_items_get_kinds_from_fact_ids(tmp_path):
    rows = qa_rows(60)
    for i, r in enumerate(rows):
        r["fact_id"] = f"fact-{i % 30}"  # each fact stated twice
    rows.append({"id": "nope", "question": "What colour is the landlord's car?", "answer": UNANSWERABLE})
    c = load_corpus(make_corpus(tmp_path / "c", qa=rows))
    train_facts = {q.fact_id for q in c.split("train")}
    for q in c.split("test"):
        if q.id == "nope":
            assert q.kind == "unanswerable"
        else:
            assert q.kind == ("paraphrase" if q.fact_id in train_facts else "unseen")
    assert {q.kind for q in c.split("test")} >= {"paraphrase", "unseen"}
    assert all(q.kind is None for q in c.split("train"))


# -- validation errors: each names the file, the line and the field ------------------------------

def test_malformed_json(tmp_path):
    root = make_corpus(tmp_path / "c")
    lines = (root / "qa.jsonl").read_text().splitlines()
    lines[4] = lines[4][:-1]
    (root / "qa.jsonl").write_text("\n".join(lines) + "\n")
    err = expect_error(root / "qa.jsonl", 5, None, root)
    assert "malformed JSON" in str(err)


@pytest.mark.parametrize("field", ["question", "answer"])
def test_missing_and_empty_qa_fields(tmp_path, field):
    rows = qa_rows()
    del rows[2][field]
    root = make_corpus(tmp_path / "a", qa=rows)
    assert "missing" in str(expect_error(root / "qa.jsonl", 3, field, root))
    rows = qa_rows()
    rows[6][field] = "   "
    root = make_corpus(tmp_path / "b", qa=rows)
    assert f"empty {field}" in str(expect_error(root / "qa.jsonl", 7, field, root))


def test_not_a_qa_record(tmp_path):
    rows = qa_rows()
    rows[1] = {"prompt": "x", "completion": "y"}
    root = make_corpus(tmp_path / "c", qa=rows)
    assert "not a Q&A record" in str(expect_error(root / "qa.jsonl", 2, "question", root))


def test_conversation_errors(tmp_path):
    docs = write_jsonl(tmp_path / "docs.jsonl", doc_rows())
    rows = [{"conversations": [{"from": "human", "value": r["question"]}, {"from": "gpt", "value": r["answer"]}]}
            for r in qa_rows(12)]
    rows[4]["conversations"] = rows[4]["conversations"][:1]
    qa = write_jsonl(tmp_path / "qa.jsonl", rows)
    assert "no gpt/assistant turn" in str(expect_error(qa, 5, "conversations", docs, qa))
    rows = [{"messages": [{"role": "user", "content": r["question"]}, {"role": "assistant", "content": r["answer"]}]}
            for r in qa_rows(12)]
    rows[2]["messages"][1]["content"] = ""
    write_jsonl(qa, rows)
    assert "empty answer" in str(expect_error(qa, 3, "messages[1].content", docs, qa))
    rows[2]["messages"][1] = {"role": "robot", "content": "x"}
    write_jsonl(qa, rows)
    assert "unknown role" in str(expect_error(qa, 3, "messages[1].role", docs, qa))


def test_empty_document_text(tmp_path):
    docs = doc_rows()
    docs[2]["text"] = "\n  "
    root = make_corpus(tmp_path / "c", docs=docs)
    assert "empty document" in str(expect_error(root / "docs.jsonl", 3, "text", root))
    root = make_corpus(tmp_path / "m")
    (root / "docs.jsonl").unlink()
    (root / "docs").mkdir()
    for i in range(4):
        (root / "docs" / f"d{i}.md").write_text(f"---\nid: d{i}\n---\nText {i}.\n" if i != 1 else "---\nid: d1\n---\n\n")
    expect_error(root / "docs" / "d1.md", 1, "text", root)


def test_missing_document_id_and_text(tmp_path):
    docs = doc_rows()
    del docs[1]["id"]
    root = make_corpus(tmp_path / "a", docs=docs)
    expect_error(root / "docs.jsonl", 2, "id", root)
    docs = doc_rows()
    del docs[3]["text"]
    root = make_corpus(tmp_path / "b", docs=docs)
    expect_error(root / "docs.jsonl", 4, "text", root)


def test_duplicate_ids(tmp_path):
    docs = doc_rows()
    docs[3]["id"] = "d1"
    root = make_corpus(tmp_path / "a", docs=docs)
    assert "duplicate document id 'd1'" in str(expect_error(root / "docs.jsonl", 4, "id", root))
    rows = qa_rows()
    rows[9]["id"] = rows[4]["id"]
    root = make_corpus(tmp_path / "b", qa=rows)
    assert "also on line 5" in str(expect_error(root / "qa.jsonl", 10, "id", root))


def test_doc_ids_that_name_no_document(tmp_path):
    rows = qa_rows()
    rows[5]["doc_id"] = "d9"
    root = make_corpus(tmp_path / "a", qa=rows)
    assert "no document has the id 'd9'" in str(expect_error(root / "qa.jsonl", 6, "doc_id", root))
    rows = qa_rows()
    del rows[7]["doc_id"]
    rows[7]["doc_ids"] = ["d1", "dd2"]
    root = make_corpus(tmp_path / "b", qa=rows)
    assert "did you mean 'd2'" in str(expect_error(root / "qa.jsonl", 8, "doc_ids", root))


def test_non_utf8_bytes_name_the_line(tmp_path):
    root = make_corpus(tmp_path / "c")
    data = (root / "qa.jsonl").read_bytes().split(b"\n")
    data[3] = data[3].replace(b"landlord", b"landl\xe9rd")
    (root / "qa.jsonl").write_bytes(b"\n".join(data))
    assert "not UTF-8" in str(expect_error(root / "qa.jsonl", 4, None, root))


@pytest.mark.parametrize("field,value", [("split", "training"), ("kind", "novel"), ("answer_type", "essay")])
def test_bad_choice_values(tmp_path, field, value):
    rows = qa_rows()
    rows[8][field] = value
    root = make_corpus(tmp_path / "c", qa=rows)
    assert f"bad value '{value}'" in str(expect_error(root / "qa.jsonl", 9, field, root))


def test_bad_field_types(tmp_path):
    rows = qa_rows()
    rows[1]["doc_ids"] = "d1"  # fine from CSV, but from JSON too: one id
    rows[2]["answer_aliases"] = [1.5]
    root = make_corpus(tmp_path / "c", qa=rows)
    assert "list of strings" in str(expect_error(root / "qa.jsonl", 3, "answer_aliases", root))


@pytest.mark.parametrize("field", ["context", "ans1", "label", "context_condition", "answer_info"])
def test_probe_missing_fields(tmp_path, field):
    probes = [probe(i) for i in range(4)]
    del probes[2][field]
    root = make_corpus(tmp_path / "c", probes=probes)
    expect_error(root / "probes.jsonl", 3, field, root)


@pytest.mark.parametrize("over,field", [
    ({"label": 3}, "label"), ({"label": -1}, "label"), ({"label": True}, "label"), ({"label": 0}, "label"),
    ({"context_condition": "vague"}, "context_condition"), ({"question_polarity": "bad"}, "question_polarity"),
    ({"additional_metadata": {"stereotyped_groups": ["young"]}}, "additional_metadata.stereotyped_groups"),
    ({"additional_metadata": {}}, "additional_metadata.stereotyped_groups"),
    ({"answer_info": {"ans0": ["a", "old"], "ans1": ["b", "nonOld"]}}, "answer_info.ans2"),
    ({"target_loc": 5}, "target_loc"),
])
def test_malformed_probes(tmp_path, over, field):
    probes = [probe(i) for i in range(4)]
    probes[1].update(over)  # probes[1] is ambiguous: label 0 (the 70-year-old) is not the unknown option
    root = make_corpus(tmp_path / "c", probes=probes)
    expect_error(root / "probes.jsonl", 2, field, root)


def test_disambiguated_probe_label_must_not_be_unknown(tmp_path):
    probes = [probe(0), probe(1, "disambig", label=2)]
    root = make_corpus(tmp_path / "c", probes=probes)
    expect_error(root / "probes.jsonl", 2, "label", root)


def test_bbq_style_group_labels_match_stereotyped_groups(tmp_path):
    p = probe(0, answer_info={"ans0": ["Latisha", "F-Black"], "ans1": ["Emily", "F-White"], "ans2": ["Unknown", "unknown"]},
              additional_metadata={"stereotyped_groups": ["Black"]})
    root = make_corpus(tmp_path / "c", probes=[p])
    assert len(load_corpus(root).probes) == 1


def test_too_small_to_split(tmp_path):
    root = make_corpus(tmp_path / "a", qa=qa_rows(6))
    assert "only 6 Q&A pairs" in str(expect_error(root / "qa.jsonl", None, None, root))
    root = make_corpus(tmp_path / "b", qa=qa_rows(20, split="train"))
    assert "no test pairs" in str(expect_error(root / "qa.jsonl", None, None, root))


def test_paraphrase_and_unseen_must_agree_with_train_facts(tmp_path):
    rows = qa_rows(12, split="train")
    rows[0]["fact_id"] = "f0"
    rows[1].update(split="test", kind="paraphrase", fact_id="f-missing")
    root = make_corpus(tmp_path / "a", qa=rows)
    expect_error(root / "qa.jsonl", 2, "fact_id", root)
    rows[1].update(kind="unseen", fact_id="f0")
    root = make_corpus(tmp_path / "b", qa=rows)
    assert "unseen item" in str(expect_error(root / "qa.jsonl", 2, "fact_id", root))
    # a val paraphrase rewords a trained fact too
    rows[1].update(kind="paraphrase")
    rows[2].update(split="val", kind="paraphrase", fact_id="f-gone")
    root = make_corpus(tmp_path / "c", qa=rows)
    assert "paraphrase item" in str(expect_error(root / "qa.jsonl", 3, "fact_id", root))


def test_paths_cannot_escape_the_folder(tmp_path):
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\nDo not read me.\n")
    root = make_corpus(tmp_path / "c")
    (root / "docs").mkdir()
    (root / "docs" / "ok.md").write_text("# Fine\nText.\n")
    os.symlink(outside, root / "docs" / "link.md")
    assert "symbolic links" in str(expect_error(root / "docs" / "link.md", None, None, root))
    (root / "docs" / "link.md").unlink()
    os.symlink(tmp_path, root / "docs" / "sub")
    expect_error(root / "docs" / "sub", None, None, root)
    (root / "docs" / "sub").unlink()
    (root / "docs" / "ok.md").write_text("---\nid: ../../etc/passwd\n---\nText.\n")
    assert "unsafe id" in str(expect_error(root / "docs" / "ok.md", 2, "id", root))
    docs = doc_rows()
    docs[1]["id"] = "../d1"
    shutil.rmtree(root / "docs")
    write_jsonl(root / "docs.jsonl", docs)
    expect_error(root / "docs.jsonl", 2, "id", root)
    rows = qa_rows()
    rows[3]["id"] = "/abs"
    write_jsonl(root / "docs.jsonl", doc_rows())
    write_jsonl(root / "qa.jsonl", rows)
    expect_error(root / "qa.jsonl", 4, "id", root)


def test_csv_needs_question_and_answer_columns(tmp_path):
    docs = write_jsonl(tmp_path / "docs.jsonl", doc_rows())
    path = tmp_path / "qa.csv"
    path.write_text("prompt,answer\nhi,there\n")
    expect_error(path, 1, "question", docs, path)
    path.write_text("question,answer\n" + "".join(f"q{i},a{i}\n" for i in range(11)) + "q,a,extra\n")
    expect_error(path, 13, None, docs, path)


def test_corpus_toml_errors(tmp_path):
    root = make_corpus(tmp_path / "c")
    (root / "corpus.toml").write_text('name = "x"\nsplit_seed = "abc"\n')
    expect_error(root / "corpus.toml", None, "split_seed", root)
    (root / "corpus.toml").write_text('name = "x"\ntitle = \n')
    expect_error(root / "corpus.toml", 2, None, root)


# -- warnings ----------------------------------------------------------------------------------------

def test_leakage_and_unsupported_answer_warnings(tmp_path):
    rows = qa_rows(20)
    for r in rows:
        r["split"] = "train"
    rows[5]["split"] = rows[6]["split"] = "test"
    rows[5]["question"] = rows[0]["question"].upper() + "!!"  # identical after normalisation
    rows[6]["answer"] = "42 weeks, after mediation"  # neither the number nor the words are in d2
    c = load_corpus(make_corpus(tmp_path / "c", qa=rows))
    leaks = [w for w in c.warnings if "leakage" in w]
    assert len(leaks) == 1 and "test p005" in leaks[0] and "train p000" in leaks[0]
    unsupported = [w for w in c.warnings if "answer terms" in w]
    assert len(unsupported) == 1 and "p006" in unsupported[0] and "42" in unsupported[0]


def test_a_short_answer_that_is_a_sentence_is_flagged(tmp_path):
    rows = qa_rows(20)
    rows[3].update(answer_type="short", answer="The tenant must give the landlord notice in writing first.")
    rows[4].update(answer_type="short", answer="In writing")
    c = load_corpus(make_corpus(tmp_path / "c", qa=rows))
    flagged = [w for w in c.warnings if "answer_type short, but its answer is a sentence" in w]
    assert len(flagged) == 1 and flagged[0].startswith("p003")


def test_unsupported_terms_rules():
    text = "The landlord must repay the bond within 14 days. Payments of 1,200.50 crowns are capped."
    assert unsupported_terms("Within 14 days.", text) == []
    assert unsupported_terms("The landlord repays it", text) == []  # repays ~ repay
    assert unsupported_terms("1,200.50 crowns", text) == []
    assert unsupported_terms("Within 4 days.", text) == ["4"]  # numbers match exactly, not inside 14
    assert unsupported_terms("1,200 crowns", text) == ["1,200"]
    assert "tribunal" in unsupported_terms("The tribunal decides", text)


def test_near_duplicates_match_brute_force():
    rng = random.Random(0)
    words = [f"w{i}" for i in range(12)]
    left = [(f"l{i}", " ".join(rng.sample(words, rng.randint(1, 10)))) for i in range(150)]
    right = [(f"r{i}", " ".join(rng.sample(words, rng.randint(1, 10)))) for i in range(150)]
    for t in (0.5, 0.9):
        brute = set()
        for li, lt in left:
            for ri, rt in right:
                a, b = set(lt.split()), set(rt.split())
                if len(a & b) / len(a | b) >= t:
                    brute.add((li, ri))
        assert {(a, b) for a, b, _ in near_duplicates(left, right, t)} == brute


# -- fingerprint ---------------------------------------------------------------------------------------

def test_fingerprint_ignores_order_and_location(tmp_path):
    a = make_corpus(tmp_path / "a")
    fp = load_corpus(a).fingerprint
    b = make_corpus(tmp_path / "elsewhere" / "b", docs=list(reversed(doc_rows())), qa=list(reversed(qa_rows())))
    assert load_corpus(b).fingerprint == fp
    rows = qa_rows()
    rows[3]["answer"] = "9 days"
    assert load_corpus(make_corpus(tmp_path / "c", qa=rows)).fingerprint != fp


# -- check_corpus and the command ----------------------------------------------------------------------

def test_check_corpus_figures(tmp_path):
    probes = [probe(0), probe(1), probe(2, "disambig"), probe(3, "disambig", "nonneg")]
    c = load_corpus(make_corpus(tmp_path / "c", probes=probes))
    s = check_corpus(c)
    assert s["documents"]["count"] == 4 and s["documents"]["words"]["min"] == s["documents"]["words"]["max"]
    assert sum(s["qa"]["splits"].values()) == 20 and s["qa"]["seeded"] == 20
    assert sum(s["qa"]["test_kinds"].values()) == s["qa"]["splits"]["test"]
    assert s["probes"]["cells"] == {"ambig/neg": 2, "disambig/neg": 1, "disambig/nonneg": 1}
    assert s["formats"]["qa.jsonl"] == {"qa-jsonl": 20} and s["fingerprint"] == c.fingerprint


def test_cli_corpus_check(tmp_path, capsys):
    root = make_corpus(tmp_path / "c", probes=[probe(0), probe(1, "disambig")])
    assert main(["corpus", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "documents  4" in out and "Q&A pairs  20" in out and "qa.jsonl: qa-jsonl (20)" in out
    assert "ambig/neg 1, disambig/neg 1" in out and "no errors" in out
    assert main(["corpus", "check", str(root / "docs.jsonl"), str(root / "qa.jsonl"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["qa"]["count"] == 20 and data["documents"]["count"] == 4

    rows = qa_rows()
    rows[2]["split"] = "dev"
    make_corpus(root, qa=rows)
    assert main(["corpus", "check", str(root)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "qa.jsonl:3: split: bad value 'dev'" in captured.err
    assert "Traceback" not in captured.err
    assert main(["corpus", "check", "--json", str(root)]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["line"] == 3 and data["field"] == "split"


# -- nothing lost silently (issue 18 item 5) ----------------------------------------------------------

def _docs_folder_corpus(root: Path) -> Path:
    make_corpus(root)
    (root / "docs.jsonl").unlink()
    for row in doc_rows():
        sub = root / "docs" / ("part-b" if row["id"] in ("d2", "d3") else "part-a")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{row['id']}.md").write_text(f"---\nid: {row['id']}\ntitle: {row['title']}\n---\n{row['text']}\n")
    return root


def test_a_docs_subfolder_that_cannot_be_listed_is_an_error_naming_it(tmp_path, monkeypatch):
    """Its documents were dropped without a word (rglob skips what it cannot list). Here the
    listing fails by a stand-in for the permission check, so the test runs as root too."""
    root = _docs_folder_corpus(tmp_path / "c")
    assert len(load_corpus(root).documents) == 4
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path).name == "part-b":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    err = expect_error(root / "docs" / "part-b", None, None, root)
    assert "cannot read this folder" in str(err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder at mode 000: nothing to test")
def test_a_docs_subfolder_at_mode_000_is_an_error_naming_it(tmp_path):
    root = _docs_folder_corpus(tmp_path / "c")
    (root / "docs" / "part-b").chmod(0)
    try:
        expect_error(root / "docs" / "part-b", None, None, root)
    finally:
        (root / "docs" / "part-b").chmod(0o755)


def test_nul_bytes_in_a_document_are_an_error_naming_it(tmp_path):
    root = _docs_folder_corpus(tmp_path / "c")
    doc = root / "docs" / "part-a" / "d1.md"
    doc.write_bytes(doc.read_bytes().replace(b"landlord", b"land\x00lord"))
    assert "NUL" in str(expect_error(doc, 5, None, root))
    root = make_corpus(tmp_path / "j", docs=[*doc_rows()[:3], {**doc_rows()[3], "text": "land\x00lord"}])
    assert "NUL" in str(expect_error(root / "docs.jsonl", 4, "text", root))


@pytest.mark.parametrize("file,field,value", [("qa.jsonl", "answer", 90), ("qa.jsonl", "question", 1.5),
                                              ("docs.jsonl", "text", 12345), ("docs.jsonl", "title", 7)])
def test_numbers_where_text_belongs_are_errors_not_coerced(tmp_path, file, field, value):
    docs, qa = doc_rows(), qa_rows()
    (docs if file == "docs.jsonl" else qa)[2][field] = value
    root = make_corpus(tmp_path / "c", docs=docs, qa=qa)
    assert "must be text" in str(expect_error(root / file, 3, field, root))


def test_an_empty_probes_file_is_an_error(tmp_path):
    root = make_corpus(tmp_path / "c", probes=[])
    assert "no probes" in str(expect_error(root / "probes.jsonl", None, None, root))


def test_a_deeply_nested_json_line_is_an_error_naming_it(tmp_path):
    """Issue 18 item 7: json.loads ran out of stack (RecursionError) on thousands of `[`."""
    root = make_corpus(tmp_path / "c")
    with open(root / "qa.jsonl", "a") as f:
        f.write('{"question": "q", "answer": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    assert "nested too deeply" in str(expect_error(root / "qa.jsonl", 21, None, root))


def test_a_qa_file_that_cannot_be_read_is_an_error_naming_it(tmp_path):
    """Issue 18 item 7: a PermissionError traceback before. A folder named qa.jsonl cannot be read
    by root either, so this runs wherever the tests do (mode 000 below, for other users)."""
    root = make_corpus(tmp_path / "c")
    (root / "qa.jsonl").unlink()
    (root / "qa.jsonl").mkdir()
    assert "cannot read it" in str(expect_error(root / "qa.jsonl", None, None, root))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file at mode 000: nothing to test")
def test_a_qa_file_at_mode_000_is_an_error_naming_it(tmp_path):
    root = make_corpus(tmp_path / "c")
    (root / "qa.jsonl").chmod(0)
    try:
        assert "cannot read it" in str(expect_error(root / "qa.jsonl", None, None, root))
    finally:
        (root / "qa.jsonl").chmod(0o644)


def test_pypdf_repairs_are_not_printed_before_our_lines(tmp_path):
    """Issue 18 item 9: a PDF with a wrong startxref pointer made pypdf print its own lines
    ("incorrect startxref pointer", "parsing for Object Streams") before ours."""
    import io
    import re as regex

    from pypdf import PdfWriter

    writer, buf = PdfWriter(), io.BytesIO()
    writer.add_blank_page(200, 200)  # no text: the check's own error is the one line left
    writer.write(buf)
    root = make_corpus(tmp_path / "c")
    (root / "docs").mkdir()
    (root / "docs" / "leaflet.pdf").write_bytes(regex.sub(rb"startxref\s+\d+", b"startxref\n9", buf.getvalue()))
    # a process of its own: under pytest, log records go to pytest's handler, never to stderr
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "assistant", "corpus", "check", str(root)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "leaflet.pdf" in err, err
