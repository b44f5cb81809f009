"""Idiomatic Python layer over the generated Trellis bindings (``trellis_ffi``).

Everything from ``trellis_ffi`` is re-exported; :class:`Session` adds
``async for delta in session.stream(prompt)``::

    import asyncio, trellis

    async def main():
        model = trellis.Model.load(trellis.bundled_model_path(),
                                   trellis.ModelOptions(context_size=1024, threads=2, batch_size=256))
        session = trellis.Session(model, "Answer briefly.", None)
        async for delta in session.stream("What is the capital of France?"):
            print(delta, end="", flush=True)

    asyncio.run(main())
"""

import os
import sys

# The generated module sits next to this package (bindings/python/trellis_ffi.py).
_here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _here not in sys.path:
    sys.path.insert(0, _here)

import trellis_ffi as _ffi  # noqa: E402
from trellis_ffi import *  # noqa: E402,F401,F403

__all__ = [name for name in dir(_ffi) if not name.startswith("_")] + ["DeltaStream"]


class DeltaStream:
    """Async iterator over the text pieces of a streamed answer.

    ``await stream.cancel()`` (or leaving an ``async with`` block early) stops generation
    and waits until the session is free again.
    """

    def __init__(self, pending):
        self._pending = pending  # coroutine returning a trellis_ffi.ResponseStream
        self._stream = None

    async def _get(self):
        if self._stream is None:
            self._stream = await self._pending
        return self._stream

    def __aiter__(self):
        return self

    async def __anext__(self):
        stream = await self._get()
        delta = await stream.next()
        if delta is None:
            raise StopAsyncIteration
        return delta

    async def cancel(self):
        stream = await self._get()
        await stream.cancel()

    async def __aenter__(self):
        await self._get()
        return self

    async def __aexit__(self, *exc):
        await self.cancel()
        return False


class Session(_ffi.Session):
    """:class:`trellis_ffi.Session` whose :meth:`stream` is an async iterator."""

    def stream(self, prompt):
        return DeltaStream(super().stream(prompt))
