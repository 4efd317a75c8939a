"""The focused RAG context: the sentences and table rows a small model can read, within budget."""
from assistant.focus import focus, units_of
from assistant.rag import Chunk, Hit, RagConfig, rag_prompt_and_sources

PLANS = """# Plans

Avalon Drive has three plans. Prices are per user per month.

| Plan | Storage | Price |
|------|---------|-------|
| Free | 5 GB | $0 |
| Team | 1 TB | $12 |

The free plan needs no payment details. Upgrades take effect at once."""

REFUNDS = """# Refunds

Refunds are available within 30 days of purchase. Contact support with your order number.
- Annual plans are refunded in full.
- Monthly plans are not refunded."""


def words(text: str) -> int:
    return len(text.split())


def test_units_are_sentences_list_items_and_table_rows_with_their_header():
    units = [u for u, _ in units_of(PLANS)]
    assert "| Plan | Storage | Price |\n| Free | 5 GB | $0 |" in units  # a row under its header
    assert "| Plan | Storage | Price |\n| Team | 1 TB | $12 |" in units
    assert "Avalon Drive has three plans." in units and "Upgrades take effect at once." in units
    assert not any(u.startswith("|---") or "------" in u for u in units)  # no rule lines
    headings = {h for _, h in units_of(PLANS)}
    assert headings == {"Plans"}  # headings count towards terms, they are not units
    assert "- Annual plans are refunded in full." in [u for u, _ in units_of(REFUNDS)]


def test_focus_picks_what_bears_on_the_question_and_keeps_chunk_order():
    got = focus("How much storage does the Free plan have?", [REFUNDS, PLANS], words, budget=40)
    assert list(got) == [1]  # nothing from the refunds chunk
    assert "| Plan | Storage | Price |\n| Free | 5 GB | $0 |" in got[1]
    assert sum(words(u) + 1 for u in got[1]) <= 40


def test_focus_respects_its_token_budget():
    for budget in (5, 12, 30, 200):
        got = focus("What plans and refunds are there?", [PLANS, REFUNDS], words, budget=budget)
        assert sum(words(u) + 1 for units in got.values() for u in units) <= budget


def test_focused_prompt_numbers_the_shown_chunks_so_citations_map_back(tiny_llm):
    hits = [Hit(Chunk(0, "refunds", "Refunds", REFUNDS, 0), 0.9), Hit(Chunk(1, "plans", "Plans", PLANS, 0), 0.8)]
    prompt, shown = rag_prompt_and_sources(tiny_llm, "How much storage does the Free plan have?", hits,
                                           context="focused", focus_tokens=60)
    assert [h.chunk.doc_id for h in shown] == ["plans"]  # [1] in the prompt is the plans chunk
    assert "Sources:\n[1] Plans\n" in prompt and "| Plan | Storage | Price |\n| Free | 5 GB | $0 |" in prompt
    assert "Refunds are available" not in prompt and "in a few words" in prompt
    count = lambda s: len(tiny_llm.tokenizer(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    block = prompt.split("Sources:\n", 1)[1].split("\n\nQuestion:", 1)[0]
    assert count(block) <= 60 + 10  # the budget, plus the [n] title lines


def test_the_rag_config_chooses_the_context():
    assert set(RagConfig.model_fields["context"].annotation.__args__) == {"chunks", "focused"}
