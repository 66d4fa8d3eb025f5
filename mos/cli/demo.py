"""`mos demo`: the whole memory loop on the embedded backend, in about a minute.

Ingest a bundled conversation → search it (showing which signals found each hit and its
provenance) → update and archive a memory → show its history → throw the read models away,
replay the log, and check the rebuilt models answer identically → promote hot memories to a
KV cache and a LoRA adapter, chat with them, and rebuild both from the log byte for byte.

The model is `MOS_MODEL` if set; otherwise a tiny random-weight Llama is built on the spot
(nothing is downloaded), so the demo shows the machinery, and its answers are noise.
"""

from __future__ import annotations

import json
import tempfile
from importlib import resources
from pathlib import Path

from rich.console import Console

from mos.domain.commands import short_id
from mos.embedders.sentence_transformer import SentenceTransformerEmbedder


def load_sample() -> dict:
    return json.loads(resources.files("mos.demo").joinpath("sample_conversation.json").read_text())


def sample_items(sample: dict) -> list[dict]:
    items = []
    for number, session in enumerate(sample["sessions"], start=1):
        for turn, (speaker, text) in enumerate(session["turns"], start=1):
            items.append({"text": f"[{session['date']}] {speaker}: {text}",
                          "metadata": {"dia_id": f"D{number}:{turn}", "speaker": speaker},
                          "tags": ["sample", f"session-{number}"]})
    return items


def run_demo(data_dir: Path | None, out: Console) -> None:
    from mos.cli.app import hits_table
    from mos.sdk import MOS

    directory = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="mos-demo-"))
    sample = load_sample()
    out.rule("[bold]MOS demo[/] (embedded backend)")
    out.print(f"data directory: {directory}  (events.db = the log; search.db, graph.db = read models)")
    with MOS(directory, embedder=SentenceTransformerEmbedder(), source_app="mos-demo") as mos:
        user = "demo-user"
        if not mos.log.read_stream(f"user:{user}"):
            mos.create_user(user)
        cube = mos.create_cube(sample["title"][:60], owner=user)
        ids = mos.add_many(sample_items(sample), user_id=user, cube_id=cube)
        out.print(f"ingested {len(ids)} turns as memories into cube {cube}; log head = {mos.log.head()} events")
        for question in sample["questions"]:
            out.print(hits_table(question, mos.search(question, user_id=user, cube_ids=[cube], top_k=3)))

        out.rule("lifecycle: update, archive, history")
        moved = ids[0]
        mos.update(moved, user, text="[2 March 2025] Maya: I accepted the job offer from Helix Robotics in Lisbon "
                                      "(starting April).")
        mos.archive(ids[7], user, reason="Tom's training plan is outdated")
        for event in mos.history(moved, user):
            out.print(f"  v{event.version} {event.type_name:<14} by {event.provenance.actor} "
                      f"(event {short_id(event.event_id)}, correlation {short_id(str(event.provenance.correlation_id))})")
        out.print(f"archived memory is hidden by default: "
                  f"{all(h.memory_id != ids[7] for h in mos.search('Berlin marathon training', user, top_k=10))}")

        out.rule("replay: rebuild every read model from the log")
        probe = "Who looks after the dog?"
        before = [(h.memory_id, round(h.score, 6)) for h in mos.search(probe, user, top_k=5)]
        report = mos.replay()
        after = [(h.memory_id, round(h.score, 6)) for h in mos.search(probe, user, top_k=5)]
        out.print(f"replayed {report.events} events in {report.seconds:.2f}s; "
                  f"same answers before and after replay: {before == after}")
        if before != after:
            raise SystemExit("replay changed search results")
    run_model_demo(directory, ids, user, out)


def quiet_transformers() -> None:
    """Rich draws the CLI's progress; transformers' own tqdm bars would interleave with it."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def run_model_demo(directory: Path, ids: list[str], user: str, out: Console) -> None:
    import os
    import time

    from model_runtime.lora import LoraSettings
    from model_runtime.runtime import RuntimeSettings
    from model_runtime.tiny_model import build_tiny_model
    from mos.sdk import MOS

    quiet_transformers()
    out.rule("activation + parametric memory: KV cache and LoRA adapter from promotion events")
    model = os.environ.get("MOS_MODEL") or build_tiny_model(directory / "models" / "tiny-llama")
    out.print(f"model: {model}" + ("" if os.environ.get("MOS_MODEL") else
                                   "  (tiny random weights: set MOS_MODEL=/path/to/hf-model for real answers)"))
    settings = RuntimeSettings(lora=LoraSettings(epochs=3))
    with MOS(directory, embedder=SentenceTransformerEmbedder(), source_app="mos-demo", model=model,
             runtime_settings=settings) as mos:
        mos.promote(ids[:6], user, "activation", reason="demo: the first session is hot")
        mos.promote(ids[8:12], user, "parametric", reason="demo: stable facts")
        report = mos.build_artifacts()
        for artifact in mos.artifacts(user):
            out.print(f"  {artifact.tier:<10} {artifact.artifact_id}  {artifact.token_count} tokens from "
                      f"{len(artifact.source_memory_ids)} memories, event {short_id(artifact.built_by_event)}")
        question = "Where is Maya moving for her new job?"
        started = time.perf_counter()
        answer = mos.chat(question, user, top_k=3, max_new_tokens=16)
        out.print(f"chat: {question!r} → {answer.answer!r} ({time.perf_counter() - started:.2f}s)")
        out.print(f"  used KV cache {answer.kv_cache} ({answer.cached_tokens} of {answer.prompt_tokens} prompt "
                  f"tokens not prefilled), adapter {answer.adapter}, {len(answer.memories)} retrieved memories")
        rebuilt = mos.rebuild_artifacts(into=directory / "artifacts-replayed")
        out.print(f"rebuilt {len(rebuilt)} artifacts from the log; byte-identical: {all(r.identical for r in rebuilt)}"
                  f" (built {len(report.built)} at first)")
        if not all(r.identical for r in rebuilt):
            raise SystemExit("artifact replay differed")
