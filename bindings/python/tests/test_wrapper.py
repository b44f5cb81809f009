"""The idiomatic layer in bindings/python/trellis (async iteration over a stream)."""

import asyncio

import trellis
from conftest import greedy

PROMPT = "What is the capital of France?"
STORY = "Write a long story about a dragon."


def test_async_for_over_a_stream(model):
    expected = asyncio.run(trellis.Session(model, None, greedy(24)).respond(STORY)).content
    session = trellis.Session(model, None, greedy(24))

    async def go():
        return [delta async for delta in session.stream(STORY)]

    deltas = asyncio.run(go())
    assert len(deltas) > 1
    assert "".join(deltas) == expected


def test_leaving_async_with_early_cancels(model):
    session = trellis.Session(model, None, greedy(200))

    async def go():
        async with session.stream(STORY) as stream:
            async for delta in stream:
                assert delta
                break
        return session.is_responding()

    assert asyncio.run(go()) is False
    assert asyncio.run(session.respond(PROMPT)).content


def test_reexports_generated_api():
    import trellis_ffi

    assert trellis.ModelOptions is trellis_ffi.ModelOptions
    assert trellis.TrellisError is trellis_ffi.TrellisError
    assert issubclass(trellis.Session, trellis_ffi.Session)
    assert "DeltaStream" in trellis.__all__ and "Model" in trellis.__all__
