"""Trellis Python bindings against the real bundled model (Gemma 3 270M) and llama.cpp."""

import asyncio
import json

import pytest

import trellis_ffi as ffi
from conftest import OPTIONS, greedy

PROMPT = "What is the capital of France?"
# Answers with many deltas (the capital question is answered in a single piece).
STORY = "Write a long story about a dragon."
INSTRUCTIONS = "Answer in one short sentence."


def run(coro):
    return asyncio.run(coro)


# ---- plain and schema-constrained answers ---------------------------------------------------


def test_respond_plain(model):
    session = ffi.Session(model, INSTRUCTIONS, greedy(32))
    answer = run(session.respond(PROMPT))
    assert "Paris" in answer.content
    assert 0 < answer.usage.completion_tokens <= 32
    assert answer.usage.prompt_tokens > 0
    assert answer.finish_reason in (ffi.FinishReason.STOP, ffi.FinishReason.MAX_TOKENS)
    assert not session.is_responding()


def test_second_turn_reuses_the_kv_cache(model):
    session = ffi.Session(model, INSTRUCTIONS, greedy(16))
    first = run(session.respond(PROMPT))
    second = run(session.respond("And the capital of Italy?"))
    assert second.usage.cached_tokens > 0
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 30},
        "country": {"type": "string", "maxLength": 30},
        "population_millions": {"type": "integer", "minimum": 0, "maximum": 50},
        "kind": {"enum": ["capital", "village", "town"]},
    },
    "required": ["city", "country", "population_millions", "kind"],
    "additionalProperties": False,
}


def test_respond_json_follows_the_schema(model):
    session = ffi.Session(model, "Describe the city as JSON.", greedy(96))
    answer = run(session.respond_json("Paris", json.dumps(SCHEMA)))
    value = json.loads(answer.content)
    assert list(value) == ["city", "country", "population_millions", "kind"]
    assert isinstance(value["city"], str) and len(value["city"]) <= 30
    assert isinstance(value["country"], str) and len(value["country"]) <= 30
    assert isinstance(value["population_millions"], int)
    assert 0 <= value["population_millions"] <= 50
    assert value["kind"] in ("capital", "village", "town")
    assert answer.finish_reason == ffi.FinishReason.STOP


def test_respond_json_too_few_tokens_is_incomplete_output(model):
    session = ffi.Session(model, None, greedy(3))
    with pytest.raises(ffi.TrellisError.IncompleteOutput) as err:
        run(session.respond_json("Paris", json.dumps(SCHEMA)))
    assert err.value.max_tokens == 3
    assert err.value.output.startswith("{")


def test_malformed_schema_is_a_schema_error(model):
    session = ffi.Session(model, None, greedy(8))
    with pytest.raises(ffi.TrellisError.Schema):
        run(session.respond_json("x", "{not json"))
    with pytest.raises(ffi.TrellisError.Schema):
        run(session.respond_json("x", json.dumps({"type": "no-such-type"})))


# ---- transcripts ----------------------------------------------------------------------------


def test_transcript_round_trip(model):
    session = ffi.Session(model, INSTRUCTIONS, greedy(16))
    answer = run(session.respond(PROMPT))
    saved = session.transcript_json()
    entries = json.loads(saved)
    text = json.dumps(entries)
    assert PROMPT in text and answer.content in text and INSTRUCTIONS in text

    restored = ffi.Session.from_transcript_json(model, saved, greedy(16))
    assert restored.transcript_json() == saved
    follow_up = run(restored.respond("And the capital of Italy?"))
    assert follow_up.content
    assert PROMPT in restored.transcript_json()


def test_bad_transcript_json_is_invalid_json(model):
    with pytest.raises(ffi.TrellisError.InvalidJson):
        ffi.Session.from_transcript_json(model, "[1, 2", None)


# ---- streaming ------------------------------------------------------------------------------


async def pull_all(stream):
    deltas = []
    while (delta := await stream.next()) is not None:
        deltas.append(delta)
    return deltas


def test_pull_stream_matches_respond(model):
    expected = run(ffi.Session(model, INSTRUCTIONS, greedy(32)).respond(STORY)).content

    session = ffi.Session(model, INSTRUCTIONS, greedy(32))

    async def go():
        stream = await session.stream(STORY)
        deltas = await pull_all(stream)
        # A finished stream keeps answering None.
        assert await stream.next() is None
        return deltas

    deltas = run(go())
    assert len(deltas) > 1
    assert all(deltas)
    assert "".join(deltas) == expected
    assert not session.is_responding()


def test_pull_stream_cancel_frees_the_session(model):
    session = ffi.Session(model, INSTRUCTIONS, greedy(200))

    async def go():
        stream = await session.stream(STORY)
        first = await stream.next()
        await stream.cancel()
        return first, await stream.next(), session.is_responding()

    first, after, responding = run(go())
    assert first
    assert after is None
    assert not responding
    # The session accepts the next request right away.
    assert run(session.respond(PROMPT)).content


class Collector(ffi.StreamObserver):
    def __init__(self, stop_after=None):
        self.deltas = []
        self.stop_after = stop_after

    def on_delta(self, delta):
        self.deltas.append(delta)
        return self.stop_after is None or len(self.deltas) < self.stop_after


def test_push_stream_delivers_every_delta(model):
    expected = run(ffi.Session(model, INSTRUCTIONS, greedy(32)).respond(STORY)).content
    session = ffi.Session(model, INSTRUCTIONS, greedy(32))
    observer = Collector()
    outcome = run(session.stream_with(STORY, observer))
    assert not outcome.stopped
    assert outcome.deltas == len(observer.deltas) > 1
    assert outcome.text == "".join(observer.deltas) == expected


def test_push_stream_stops_when_the_callback_says_so(model):
    session = ffi.Session(model, INSTRUCTIONS, greedy(200))
    observer = Collector(stop_after=2)
    outcome = run(session.stream_with(STORY, observer))
    assert outcome.stopped
    assert outcome.deltas == 2 == len(observer.deltas)
    assert not session.is_responding()
    assert run(session.respond(PROMPT)).content


class Raising(ffi.StreamObserver):
    def __init__(self, error):
        self.error = error

    def on_delta(self, delta):
        raise self.error


def test_callback_raising_a_foreign_exception_is_a_callback_error(model):
    session = ffi.Session(model, INSTRUCTIONS, greedy(32))
    with pytest.raises(ffi.TrellisError.Callback) as err:
        run(session.stream_with(PROMPT, Raising(ValueError("boom"))))
    assert "boom" in err.value.reason
    assert run(session.respond(PROMPT)).content


def test_callback_raising_a_trellis_error_passes_it_through(model):
    session = ffi.Session(model, INSTRUCTIONS, greedy(32))
    with pytest.raises(ffi.TrellisError.Internal) as err:
        run(session.stream_with(PROMPT, Raising(ffi.TrellisError.Internal("from python"))))
    assert err.value.reason == "from python"


# ---- typed errors ---------------------------------------------------------------------------


def test_loading_a_non_gguf_file_raises_not_gguf(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("definitely not a model\n" * 10)
    with pytest.raises(ffi.TrellisError.NotGguf) as err:
        ffi.Model.load(str(path), OPTIONS)
    assert err.value.path == str(path)
    assert isinstance(err.value, ffi.TrellisError)


def test_loading_a_missing_file_raises_model_not_found(tmp_path):
    path = tmp_path / "missing.gguf"
    with pytest.raises(ffi.TrellisError.ModelNotFound) as err:
        ffi.Model.load(str(path), OPTIONS)
    assert err.value.path == str(path)


def test_invalid_model_options_are_rejected(model):
    bad = ffi.ModelOptions(context_size=1024, threads=0, batch_size=256)
    with pytest.raises(ffi.TrellisError.InvalidOptions) as err:
        ffi.Model.load(model.path(), bad)
    assert err.value.option == "threads"


def test_invalid_generation_options_are_rejected(model):
    session = ffi.Session(model, None, greedy(0))
    with pytest.raises(ffi.TrellisError.InvalidOptions) as err:
        run(session.respond(PROMPT))
    assert err.value.option == "max_tokens"
    bad_sampling = ffi.GenerationOptions(
        sampling=ffi.Sampling.RANDOM(temperature=-1.0, top_k=40, top_p=0.9, seed=1),
        max_tokens=8,
    )
    with pytest.raises(ffi.TrellisError.InvalidOptions) as err:
        run(ffi.Session(model, None, bad_sampling).respond(PROMPT))
    assert err.value.option == "temperature"


def test_model_reports_its_options(model):
    assert model.options() == OPTIONS
    assert model.vocab_size() == 262144
