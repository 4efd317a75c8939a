"""Several phrasings per training fact: rule rewrites, deterministic at a seed, one held back."""
from assistant.corpus import QAPair
from assistant.paraphrase import phrasings, rewrites


def pairs():
    return [QAPair("s1", "How many domains can an account verify?", "Up to 50 domains.", fact_id="f1"),
            QAPair("s2", "If I turn off camera uploads, do the photos stay in Avalon Drive?", "Yes.", fact_id="f2"),
            QAPair("s3", "What is the API base URL?", "https://api.example/v3", fact_id="f3"),
            QAPair("s4", "What is the API base URL for v3 calls?", "https://api.example/v3", fact_id="f3")]


def test_rewrites_keep_the_question_s_names_and_numbers():
    assert "What number of domains can an account verify?" in rewrites("How many domains can an account verify?")
    assert "Do the photos stay in Avalon Drive if I turn off camera uploads?" in \
        rewrites("If I turn off camera uploads, do the photos stay in Avalon Drive?")
    for q in ("Which plans include the Avalon API in version 5.3?", "Can children under 16 be used as interpreters?"):
        out = rewrites(q)
        assert len(out) >= 6 and q not in out and len(set(out)) == len(out)
        for text in out:
            assert all(word in text for word in ("5.3",) if word in q) and ("16" in text or "16" not in q)
            assert ("Avalon" in text) == ("Avalon" in q) and ("API" in text) == ("API" in q)


def test_phrasings_are_deterministic_at_a_seed_and_the_held_out_one_is_never_trained():
    a, b, c = phrasings(pairs(), 3, seed=0), phrasings(pairs(), 3, seed=0), phrasings(pairs(), 3, seed=1)
    assert [p.question for p in a.train] == [p.question for p in b.train]
    assert [p.question for p in a.train] != [p.question for p in c.train]
    by_fact = {}
    for p in a.train:
        by_fact.setdefault(p.fact_id, []).append(p)
    assert {f: len(ps) for f, ps in by_fact.items()} == {"f1": 3, "f2": 3, "f3": 3}  # f3's own two pairs count
    assert [p.question for p in by_fact["f3"][:2]] == [pairs()[2].question, pairs()[3].question]
    assert all(p.answer == by_fact[p.fact_id][0].answer for p in a.train)
    assert len(a.held_out) == 3 and {p.fact_id for p in a.held_out} == {"f1", "f2", "f3"}
    trained = {p.question for p in a.train}
    assert all(h.question not in trained for h in a.held_out)
    # one phrasing: the pairs as they are, and still one held back for validation
    one = phrasings(pairs(), 1, seed=0)
    assert [p.id for p in one.train] == ["s1", "s2", "s3", "s4"] and len(one.held_out) == 3
