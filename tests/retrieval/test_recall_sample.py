"""End-to-end recall on a bundled LoCoMo excerpt (108 turns, 45 questions), through MOS.search.

Every turn goes in with add_many (speaker and session in metadata, as bench/locomo.py does)
and each question is asked through the SDK. The hashing embedder keeps it fast, so the
vector signal is lexical here; the test is about the composition: the full recipe must
reach its recall, and removing any one component must cost recall — so a component that
silently stops working (a speaker feature that never fires, context that finds no
neighbours, an analyser that stems documents and queries differently) fails this test.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from mos import MOS
from mos.embedders.hashing import HashingEmbedder
from mos.retrieval.hybrid import RetrievalConfig

SAMPLE = Path(__file__).with_name("data") / "locomo_26_sessions_1_6.json"
FULL = RetrievalConfig()
ABLATED = {
    "- bm25": replace(FULL, use_bm25=False),
    "- context": replace(FULL, use_context=False),
    "- speaker": replace(FULL, use_speaker=False),
    "- graph": replace(FULL, use_graph=False),
    "- session window": replace(FULL, use_window=False),
}


def _turns_and_questions(speaker_also_as: str | None = None):
    raw = json.loads(SAMPLE.read_text())
    items = []
    for n in sorted(int(m[1]) for key in raw if (m := re.fullmatch(r"session_(\d+)", key))):
        date = raw[f"session_{n}_date_time"]
        for turn in raw[f"session_{n}"]:
            items.append({"text": f"[{date}] {turn['speaker']}: {turn['text']}",
                          "metadata": {"dia_id": turn["dia_id"], "speaker": turn["speaker"], "session_id": n,
                                       **({speaker_also_as: turn["speaker"]} if speaker_also_as else {})}})
    questions = [(q["question"], frozenset(e.strip() for e in q["evidence"])) for q in raw["qa"]]
    return items, questions


def sample_in_a_cube(home, speaker_also_as: str | None = None) -> tuple[MOS, str, list]:
    """An embedded MOS in `home` with the excerpt's turns in one cube of user "u" (the speaker
    also under the metadata key `speaker_also_as`, if given); the questions."""
    items, questions = _turns_and_questions(speaker_also_as)
    mos = MOS(home, embedder=HashingEmbedder(), record_access=False)
    mos.create_user("u")
    cube = mos.create_cube("locomo-sample", owner="u")
    mos.add_many(items, user_id="u", cube_id=cube)
    return mos, cube, questions


@pytest.fixture(scope="module")
def recall_at_5(tmp_path_factory):
    mos, cube, questions = sample_in_a_cube(tmp_path_factory.mktemp("recall"))

    def measure(recipe: RetrievalConfig) -> float:
        total = 0.0
        for question, evidence in questions:
            hits = mos.search(question, user_id="u", cube_ids=[cube], top_k=5, retrieval=recipe)
            total += len(evidence & {h.metadata["dia_id"] for h in hits}) / len(evidence)
        return total / len(questions)

    yield measure
    mos.close()


def test_the_full_recipe_finds_most_evidence_in_the_top_five(recall_at_5):
    assert recall_at_5(FULL) >= 0.70


@pytest.mark.parametrize("variant", sorted(ABLATED))
def test_removing_any_component_costs_recall(recall_at_5, variant):
    assert recall_at_5(ABLATED[variant]) < recall_at_5(FULL)
